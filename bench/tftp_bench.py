#!/usr/bin/python3
"""TFTP benchmark: zonebootd, tftpd-hpa and atftpd side by side, in one run, on this machine.

Every server listens on 127.0.0.1 only, on a port picked here, and serves the same
directory; every one is started and stopped by PID. Measured with real clients:
curl for block sizes 512 / 1468 / 8192, atftp for RFC 7440 windows (tftpd-hpa has no
windowsize: it runs those at window 1). Then 200 concurrent 4 MiB fetches at 512 (curl),
all of which must complete, timed wall clock.

atftpd conflicts with tftpd-hpa as Debian packages: when it is not installed, its package
is downloaded (`apt-get download`) and unpacked with `dpkg -x` under .bench/.
"""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZONEBOOTD = Path(os.environ.get("ZONEBOOTD", ROOT / ".build" / "release" / "zonebootd"))
HOST = "127.0.0.1"
BIG = 64 << 20
SMALL = 4 << 20
CONCURRENT = int(os.environ.get("TFTP_BENCH_CONCURRENT", "200"))
REPEATS = int(os.environ.get("TFTP_BENCH_REPEATS", "2"))
CASES = [("blksize 512", "curl", 512, 1), ("blksize 1468", "curl", 1468, 1), ("blksize 8192", "curl", 8192, 1),
         ("blksize 1468 windowsize 16", "atftp", 1468, 16)]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def atftpd_binary():
    found = shutil.which("atftpd")
    if found:
        return found
    unpacked = ROOT / ".bench" / "atftpd" / "usr" / "sbin" / "atftpd"
    if not unpacked.exists():
        where = ROOT / ".bench"
        where.mkdir(exist_ok=True)
        try:
            subprocess.run(["apt-get", "download", "atftpd"], cwd=where, check=True, capture_output=True, timeout=120)
            deb = sorted(where.glob("atftpd_*.deb"))[-1]
            subprocess.run(["dpkg", "-x", str(deb), str(where / "atftpd")], check=True, timeout=60)
        except (subprocess.SubprocessError, IndexError) as error:
            print(f"atftpd unavailable ({error}); skipped")
            return None
    return str(unpacked)


class Peer:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1.0)
        if self.proc.poll() is not None:
            raise RuntimeError(f"{name} exited at start: {argv}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def start_servers(root, state):
    servers = []
    port = free_port()
    servers.append(Peer("zonebootd", [
        str(ZONEBOOTD), "--zone", str(ROOT / "zones" / "ams1.yaml"), "--state", str(state), "--listen", HOST,
        "--dhcp-port", str(free_port()), "--tftp-port", str(port), "--tftp-root", str(root),
        "--tftp-max-per-client", "1024", "--http-port", "0", "--admin-port", "0",
        "--firmware", str(ROOT / "firmware"), "--log-level", "warning"], port))
    if shutil.which("in.tftpd"):
        port = free_port()
        servers.append(Peer("tftpd-hpa", ["in.tftpd", "--foreground", "--address", f"{HOST}:{port}",
                                          "--secure", "--user", "nobody", str(root)], port))
    atftpd = atftpd_binary()
    if atftpd:
        port = free_port()
        servers.append(Peer("atftpd", [atftpd, "--daemon", "--no-fork", "--port", str(port), "--bind-address", HOST,
                                       "--logfile", "/dev/null", "--user", "nobody.nogroup", "--maxthread", str(CONCURRENT + 50),
                                       str(root)], port))
    return servers


def fetch(tool, port, name, out, blksize, window, timeout=300):
    if tool == "curl":
        argv = ["curl", "-sS", "-o", str(out), "--tftp-blksize", str(blksize), f"tftp://{HOST}:{port}/{name}"]
    else:
        argv = ["atftp", "--option", f"blksize {blksize}", "--option", f"windowsize {window}",
                "-g", "-r", name, "-l", str(out), HOST, str(port)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def single(server, tool, blksize, window, out_dir, expected):
    """One 64 MiB fetch: MiB/s, or None and why it failed."""
    out = out_dir / f"{server.name}.bin"
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = fetch(tool, server.port, "big.bin", out, blksize, window)
    _, err = proc.communicate(timeout=300)
    elapsed = time.perf_counter() - started
    ok = proc.returncode == 0 and sha256(out) == expected
    out.unlink(missing_ok=True)
    if not ok:
        return None, f"failed: {err.decode(errors='replace').strip()[:80]}"
    return BIG / elapsed / (1 << 20), None


def concurrent(server, out_dir, expected):
    outs = [out_dir / f"c{server.name}-{i}.bin" for i in range(CONCURRENT)]
    for out in outs:
        out.unlink(missing_ok=True)
    started = time.perf_counter()
    procs = [fetch("curl", server.port, "small.bin", out, 512, 1) for out in outs]
    deadline = started + 300
    for proc in procs:
        try:
            proc.communicate(timeout=max(1, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    elapsed = time.perf_counter() - started
    good = sum(1 for proc, out in zip(procs, outs) if proc.returncode == 0 and out.exists() and sha256(out) == expected)
    for out in outs:
        out.unlink(missing_ok=True)
    return elapsed, good


def main():
    if not ZONEBOOTD.exists():
        sys.exit(f"{ZONEBOOTD} missing: run `swift build -c release`")
    tmp = Path(tempfile.mkdtemp(prefix="tftp-bench-"))
    os.chmod(tmp, 0o755)
    root, state, out_dir = tmp / "root", tmp / "state", tmp / "out"
    for d in (root, state, out_dir):
        d.mkdir()
    os.chmod(root, 0o755)
    (root / "big.bin").write_bytes(os.urandom(BIG))
    (root / "small.bin").write_bytes(os.urandom(SMALL))
    for f in root.iterdir():
        os.chmod(f, 0o644)
    big, small = sha256(root / "big.bin"), sha256(root / "small.bin")
    servers = start_servers(root, state)
    failures = []
    try:
        print(f"TFTP 64 MiB, MiB/s (best of {REPEATS}), 127.0.0.1, one run:")
        print(f"  {'case':28}" + "".join(f"{s.name:>12}" for s in servers) + "   zonebootd / best peer")
        for label, tool, blksize, window in CASES:
            rates = {server.name: None for server in servers}
            # Servers take turns within each repeat, so a burst of load elsewhere on the
            # machine does not land on one of them only.
            for _ in range(REPEATS):
                for server in servers:
                    rate, problem = single(server, tool, blksize, window, out_dir, big)
                    if rate and (rates[server.name] is None or rate > rates[server.name]):
                        rates[server.name] = rate
                    if problem and server.name == "zonebootd":
                        failures.append(f"{label}: {problem}")
            cells = [f"{rates[s.name]:12.1f}" if rates[s.name] else f"{'fail':>12}" for s in servers]
            peers = [r for n, r in rates.items() if n != "zonebootd" and r]
            ratio = f"{rates['zonebootd'] / max(peers):.2f}x" if peers and rates.get("zonebootd") else "-"
            print(f"  {label + ' (' + tool + ')':28}" + "".join(cells) + f"   {ratio}")
        print(f"{CONCURRENT} concurrent 4 MiB fetches at blksize 512 (curl), wall seconds:")
        walls = {}
        for server in servers:
            elapsed, good = concurrent(server, out_dir, small)
            walls[server.name] = elapsed
            print(f"  {server.name:12} {elapsed:7.1f} s   {good}/{CONCURRENT} complete")
            if server.name == "zonebootd" and good != CONCURRENT:
                failures.append(f"concurrent: only {good}/{CONCURRENT} complete")
        if "tftpd-hpa" in walls:
            print(f"  zonebootd / tftpd-hpa wall time: {walls['zonebootd'] / walls['tftpd-hpa']:.2f}")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
