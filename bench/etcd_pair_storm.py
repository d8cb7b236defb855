"""Discovery on a ToR pair on etcd, at the issue's size: 10,000 simulated clients
(tests/e2e/pair_clients.py, a relay forwarding each DISCOVER and REQUEST to both hosts)
while one host is SIGKILLed every 20 s and restarted; then the same generator against one
host on SQLite in the same run, for the ratio. Namespaces on 198.18.0.0/15 (the clients'
pod in 198.19.16.0/20), removed afterwards. The generator is pinned to CPU 0 (taskset).

    /usr/bin/python3 bench/etcd_pair_storm.py [--clients N] [--kill-every S] [--window N]

Prints: addresses given twice (must be 0), clients answered, DORA/s of the pair (with kills)
and of the single host, their ratio, and etcd writes per 10 new discovery leases (etcd's
revision counts every write: block claims and lease-record transactions).
"""
import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
# The release build, as every benchmark measures it (ZONEBOOTD overrides).
os.environ.setdefault("ZONEBOOTD", str(Path(__file__).resolve().parents[1] / ".build" / "release" / "zonebootd"))

from dhcp_lab import lab_zone  # noqa: E402
from etcd_lab import HOSTS, EtcdPairLab  # noqa: E402
from netlab import lab, read_counters, start_zonebootd  # noqa: E402
from test_etcd_pair import GIADDR, P02  # noqa: E402

CLIENTS = Path(__file__).resolve().parents[1] / "tests" / "e2e" / "pair_clients.py"
SINGLE = "198.18.0.12"


def etcd_revision(pair):
    out = pair.etcd.etcdctl("endpoint", "status", "-w", "json", names=["m1"])
    return json.loads(out.stdout)[0]["Status"]["header"]["revision"]


def writes_by_kind(pair, since):
    """etcd's writes after revision `since`, by what they wrote: one per revision (a
    transaction's puts share one), named by the folder of its first key under the zone prefix."""
    endpoint = f"http://{pair.etcd.addresses['m1']}:2379"
    # The watch replays history from `since`, then waits: stopped after a few seconds.
    out = pair.etcd.lab.run(pair.etcd.ns, "timeout", "5", "etcdctl", "--endpoints", endpoint, "watch", "--prefix", "",
                       "--rev", str(since + 1), "-w", "json", check=False, timeout=30).stdout
    kinds, seen = {}, set()
    decoder, i = json.JSONDecoder(), 0
    while i < len(out):
        if out[i].isspace():
            i += 1
            continue
        response, i = decoder.raw_decode(out, i)
        for event in response.get("Events") or []:
            kv = event["kv"]
            revision = kv.get("mod_revision", 0) if event.get("type", 0) == 0 else response["Header"]["revision"]
            if revision in seen:
                continue
            seen.add(revision)
            key = base64.b64decode(kv["key"]).decode(errors="replace")
            parts = [part for part in key.split("/") if part]
            kind = next((f"{a}/{b}" if a == "discovery" else a for a, b in zip(parts, parts[1:] + [""])
                         if a in ("discovery", "leases", "outbox", "revisions", "hosts", "events")), key)
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def storm(the_lab, ns, servers, count, first, log, window):
    args = ["taskset", "-c", "0", sys.executable, CLIENTS, "--giaddr", GIADDR, "--count", str(count), "--first", str(first),
            "--window", str(window), "--timeout", "1200"]
    for server in servers:
        args += ["--server", server]
    started = time.perf_counter()
    result = the_lab.run(ns, *args, timeout=1300)
    log.write_text(result.stdout + result.stderr)
    return json.loads(result.stdout), time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--kill-every", type=float, default=20)
    # Clients in flight: past what the pair answers at once, so it runs saturated (the issue's
    # bound on etcd writes per new lease is at saturation).
    parser.add_argument("--window", type=int, default=256)
    args = parser.parse_args()
    count = min(max(args.clients, 1), 15_000)
    with tempfile.TemporaryDirectory() as tmp, lab() as the_lab:
        tmp = Path(tmp)
        # A range wide enough for the clients (p02 of the e2e test, widened to a /18 here).
        zone = lab_zone(pods=P02.replace("198.19.16.0/20", "198.19.0.0/18").replace("198.19.17.0-198.19.31.250",
                                                                                   "198.19.17.0-198.19.63.250"))
        pair = EtcdPairLab(the_lab, tmp, ports=1, zone=zone, host_args=("--etcd-lease-ttl", "5"))
        gen = the_lab.ns("gen")
        the_lab.link(pair.srv, "gn0", gen, "eth0")
        the_lab.addr(pair.srv, "gn0", "198.19.16.254/24")
        the_lab.addr(gen, "eth0", f"{GIADDR}/24")
        the_lab.wait_up(gen, "eth0")
        the_lab.route(gen, "198.18.0.0/24", "198.19.16.254")
        before = etcd_revision(pair)
        done = threading.Event()
        kills = []

        def killer():
            victim = "A"
            while not done.wait(args.kill_every):
                the_lab.stop(pair.hosts.pop(victim), sig=signal.SIGKILL)
                kills.append(victim)
                pair.start_host(victim)
                victim = "B" if victim == "A" else "A"

        thread = threading.Thread(target=killer)
        thread.start()
        try:
            result, seconds = storm(the_lab, gen, list(HOSTS.values()), count, 0, tmp / "pair.json", args.window)
        finally:
            done.set()
            thread.join()
        writes = etcd_revision(pair) - before
        kinds = writes_by_kind(pair, before)
        # Drops by reason on the hosts that ran to the end (a killed host's counters went with it).
        drops = {}
        for name in pair.hosts:
            for reason, n in ((read_counters(tmp / f"counters-{name}.json") or {}).get("dropped") or {}).items():
                drops[reason] = drops.get(reason, 0) + n
        addresses = list(result["acked"].values())
        twice = len(addresses) - len(set(addresses))

        # One host on SQLite, the same generator, a fresh pod range.
        the_lab.addr(pair.srv, "eth0", f"{SINGLE}/24")
        single = start_zonebootd(the_lab, pair.srv, pair.zone, tmp / "state-single", SINGLE, tmp / "counters-single.json",
                                 "--admin-port", "0", "--http-port", "0", "--tftp-port", "0", log=tmp / "single.log")
        alone, alone_seconds = storm(the_lab, gen, [SINGLE], count, 1_000_000, tmp / "single.json", args.window)
        the_lab.stop(single)
        pair.etcd.stop()
    pair_rate, single_rate = len(result["acked"]) / seconds, len(alone["acked"]) / alone_seconds
    print(f"pair on etcd, {len(kills)} SIGKILLs: {len(result['acked'])}/{count} clients answered, {twice} addresses given twice, "
          f"{pair_rate:.0f} DORA/s")
    print(f"one host on SQLite: {len(alone['acked'])}/{count} clients answered, {single_rate:.0f} DORA/s")
    print(f"pair / single host: {pair_rate / single_rate:.2f}x (the pair's run includes the kills)")
    print(f"etcd writes: {writes} for {len(result['acked'])} new discovery leases = "
          f"{10 * writes / max(1, len(result['acked'])):.2f} per 10 (target: at most 1)")
    print("drops on the hosts at the end: " + (", ".join(f"{r} {n}" for r, n in sorted(drops.items())) or "none"))
    print("etcd writes by kind: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items(), key=lambda item: -item[1])))


if __name__ == "__main__":
    main()
