#!/usr/bin/python3
"""TFTP benchmark: zonebootd, tftpd-hpa and atftpd side by side, in one run, on this machine.

Every server listens on 127.0.0.1 only, on a port picked here, and serves the same
directory; every one is started and stopped by PID. Two sets of clients:

1. Real clients: curl for block sizes 512 / 1468 / 8192, atftp for RFC 7440 windows
   (tftpd-hpa has no windowsize: it runs those at window 1), then 200 concurrent 4 MiB
   fetches at 512 with curl. These show what an operator's tools see, but they measure
   the clients more than the servers: 200 curl processes take two thirds of the CPU.
2. tftp_load (bench/tftp_load.c, built here): one process, one epoll loop, every byte
   compared with the file. The issue's targets are judged on these rows.
   - A single lock-step transfer is one round trip per block, and on this VM a wakeup on
     the other CPU costs about 70 us, so an unpinned run measures where the scheduler put
     the two processes (runs of the same server varied 11-15 s). Client and server are
     therefore pinned to CPU 0 for the single transfers: the time is then the CPU that
     server, client and kernel spend per block.
   - The 200 concurrent transfers run unpinned: the wall time on the whole machine.

atftpd conflicts with tftpd-hpa as Debian packages: when it is not installed, its package
is downloaded (`apt-get download`) and unpacked with `dpkg -x` under .bench/.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lean_clients import compiled

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from netlab import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ZONEBOOTD = Path(os.environ.get("ZONEBOOTD", ROOT / ".build" / "release" / "zonebootd"))
HOST = "127.0.0.1"
BIG = 64 << 20
SMALL = 4 << 20
CONCURRENT = int(os.environ.get("TFTP_BENCH_CONCURRENT", "200"))
REPEATS = int(os.environ.get("TFTP_BENCH_REPEATS", "2"))
CASES = [("blksize 512", "curl", 512, 1), ("blksize 1468", "curl", 1468, 1), ("blksize 8192", "curl", 8192, 1),
         ("blksize 1468 windowsize 16", "atftp", 1468, 16)]


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
    port = free_port(socket.SOCK_DGRAM)
    servers.append(Peer("zonebootd", [
        str(ZONEBOOTD), "--zone", str(ROOT / "zones" / "ams1.yaml"), "--state", str(state), "--listen", HOST,
        "--dhcp-port", str(free_port(socket.SOCK_DGRAM)), "--tftp-port", str(port), "--tftp-root", str(root),
        "--tftp-max-per-client", "1024", "--http-port", "0", "--admin-port", "0",
        "--firmware", str(ROOT / "firmware"), "--log-level", "warning"], port))
    if shutil.which("in.tftpd"):
        port = free_port(socket.SOCK_DGRAM)
        servers.append(Peer("tftpd-hpa", ["in.tftpd", "--foreground", "--address", f"{HOST}:{port}",
                                          "--secure", "--user", "nobody", str(root)], port))
    atftpd = atftpd_binary()
    if atftpd:
        port = free_port(socket.SOCK_DGRAM)
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


def pin(server, cpus):
    """Sets the CPUs of every thread of a server and of the processes it forked."""
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)
    # tftpd-hpa forks a child per transfer: children inherit the parent's mask.


def lean(client, server, name, reference, blksize, window, concurrent, cpus=None):
    """One tftp_load run: seconds, or None and why it failed."""
    argv = [str(client), HOST, str(server.port), name, str(reference), str(blksize), str(window), str(concurrent)]
    proc = subprocess.run(argv, capture_output=True, timeout=600,
                          preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        return None, f"tftp_load said: {proc.stderr.decode(errors='replace').strip()[:80]}"
    if result["failed"]:
        return None, f"{result['failed']} of {concurrent} failed: {proc.stderr.decode(errors='replace').strip()[:80]}"
    return result["seconds"], None


def best_of(servers, repeats, measure, better):
    """Runs `measure(server)` -> (value or None, problem) `repeats` times per server, the
    servers taking turns so that a burst of load elsewhere on the machine does not land on
    one of them only; returns each server's best value and zonebootd's problems."""
    best, problems = {}, []
    for _ in range(repeats):
        for server in servers:
            value, problem = measure(server)
            if value is not None and (server.name not in best or better(value, best[server.name])):
                best[server.name] = value
            if problem and server.name == "zonebootd":
                problems.append(problem)
    return best, problems


def rate_row(label, servers, rates):
    cells = [f"{rates[s.name]:12.1f}" if s.name in rates else f"{'fail':>12}" for s in servers]
    peers = [r for n, r in rates.items() if n != "zonebootd"]
    ratio = f"{rates['zonebootd'] / max(peers):.2f}x" if peers and "zonebootd" in rates else "-"
    print(f"  {label:28}" + "".join(cells) + f"   {ratio}")


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
            rates, problems = best_of(servers, REPEATS, lambda server: single(server, tool, blksize, window, out_dir, big),
                                      better=lambda a, b: a > b)
            failures.extend(f"{label}: {problem}" for problem in problems)
            rate_row(f"{label} ({tool})", servers, rates)
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

        client = compiled("tftp_load")
        everything = os.sched_getaffinity(0)
        # A pinned single transfer takes a second or two: a third try costs little and steadies the best.
        single_repeats = max(REPEATS, 3)
        print(f"TFTP 64 MiB with tftp_load, client and server pinned to CPU 0, MiB/s (best of {single_repeats}):")
        print(f"  {'case':28}" + "".join(f"{s.name:>12}" for s in servers) + "   zonebootd / best peer")
        for label, _, blksize, window in CASES:
            def pinned(server, blksize=blksize, window=window):
                pin(server, {0})
                try:
                    seconds, problem = lean(client, server, "big.bin", root / "big.bin", blksize, window, 1, cpus={0})
                finally:
                    pin(server, everything)
                return (BIG / seconds / (1 << 20) if seconds else None), problem
            rates, problems = best_of(servers, single_repeats, pinned, better=lambda a, b: a > b)
            failures.extend(f"tftp_load {label}: {problem}" for problem in problems)
            rate_row(label, servers, rates)
        print(f"{CONCURRENT} concurrent 4 MiB fetches at blksize 512 with tftp_load, unpinned, wall seconds (best of {REPEATS}):")
        walls, problems = best_of(servers, REPEATS,
                                  lambda server: lean(client, server, "small.bin", root / "small.bin", 512, 1, CONCURRENT),
                                  better=lambda a, b: a < b)
        failures.extend(f"tftp_load concurrent: {problem}" for problem in problems)
        for server in servers:
            shown = f"{walls[server.name]:7.1f} s   {CONCURRENT}/{CONCURRENT} complete" if server.name in walls else "failed"
            print(f"  {server.name:12} {shown}")
        if "tftpd-hpa" in walls and "zonebootd" in walls:
            print(f"  zonebootd / tftpd-hpa wall time: {walls['zonebootd'] / walls['tftpd-hpa']:.2f}")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
