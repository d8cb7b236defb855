"""Discovery on a ToR pair on etcd, at the issue's size, with simulated clients
(tests/e2e/pair_clients.py, a relay forwarding each DISCOVER and REQUEST to both hosts), in
namespaces on 198.18.0.0/15 (the clients' pod in 198.19.0.0/17), removed afterwards. The
generator is pinned to CPU 0 (taskset).

1. Saturated (--window clients in flight, no kill): the pair's DORA/s, and etcd writes per 10
   new discovery leases (etcd's revision counts every write: block claims and lease-record
   transactions), by kind.
2. 10,000 clients paced to span three kills while one host is SIGKILLed every --kill-every
   seconds and restarted: all answered.
3. A host killed once more: how soon after the SIGKILL the survivor has answered the dead
   host's clients (rebinding, with their address) and new machines.
4. One host on SQLite with the generator of 1., for the ratio.
Last: addresses given twice across every phase (must be 0).

    /usr/bin/python3 bench/etcd_pair_storm.py [--clients N] [--kill-every S] [--window N]
"""
import argparse
import base64
import json
import os
import signal
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


def storm(the_lab, ns, servers, count, first, log, window, *extra):
    args = ["taskset", "-c", "0", sys.executable, CLIENTS, "--giaddr", GIADDR, "--count", str(count), "--first", str(first),
            "--window", str(window), "--timeout", "1200", *extra]
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
    count = min(max(args.clients, 1), 12_000)
    with tempfile.TemporaryDirectory() as tmp, lab() as the_lab:
        tmp = Path(tmp)
        # A range wide enough for every phase's clients (p02 of the e2e test, widened to a /17 here).
        zone = lab_zone(pods=P02.replace("198.19.16.0/20", "198.19.0.0/17").replace("198.19.17.0-198.19.31.250",
                                                                                   "198.19.17.0-198.19.127.250"))
        pair = EtcdPairLab(the_lab, tmp, ports=1, zone=zone, host_args=("--etcd-lease-ttl", "5"))
        gen = the_lab.ns("gen")
        the_lab.link(pair.srv, "gn0", gen, "eth0")
        the_lab.addr(pair.srv, "gn0", "198.19.16.254/24")
        the_lab.addr(gen, "eth0", f"{GIADDR}/24")
        the_lab.wait_up(gen, "eth0")
        the_lab.route(gen, "198.18.0.0/24", "198.19.16.254")
        servers = list(HOSTS.values())

        # 1. Saturated, no kill: the pair's rate, and etcd writes per new discovery lease.
        before = etcd_revision(pair)
        saturated, saturated_seconds = storm(the_lab, gen, servers, count, 0, tmp / "saturated.json", args.window)
        writes = etcd_revision(pair) - before
        kinds = writes_by_kind(pair, before)
        drops = host_drops(pair, tmp)

        # 2. Killed every --kill-every seconds: the clients paced to span three kills and more.
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
            paced, paced_seconds = storm(the_lab, gen, servers, count, 1_000_000, tmp / "paced.json", args.window,
                                         "--rate", f"{count / (3.5 * args.kill_every):.1f}")
        finally:
            done.set()
            thread.join()

        # 3. A host killed: how soon the survivor answers its clients (rebinding, through both
        # relays) and then new machines, counted from the SIGKILL (the bound: 5 s).
        settled, _ = storm(the_lab, gen, servers, 1000, 2_000_000, tmp / "settled.json", 64)
        on_a = {mac: address for mac, address in settled["acked"].items() if settled["by"][mac] == HOSTS["A"]}
        (tmp / "on-a.json").write_text(json.dumps({"acked": on_a}))
        the_lab.stop(pair.hosts.pop("A"), sig=signal.SIGKILL)
        killed = time.perf_counter()
        rebound, _ = storm(the_lab, gen, servers, 0, 0, tmp / "rebound.json", 64, "--rebind", tmp / "on-a.json",
                           "--wait", "0.25", "--tries", "40")
        rebound_after = time.perf_counter() - killed
        fresh, _ = storm(the_lab, gen, servers, 200, 3_000_000, tmp / "fresh.json", 64, "--wait", "0.25", "--tries", "40")
        fresh_after = time.perf_counter() - killed
        kept = sum(1 for mac, address in on_a.items() if rebound["acked"].get(mac) == address)
        everything = [*saturated["acked"].values(), *paced["acked"].values(), *settled["acked"].values(), *fresh["acked"].values()]
        twice = len(everything) - len(set(everything))

        # 4. One host on SQLite, the same generator as 1., a fresh pod range.
        the_lab.addr(pair.srv, "eth0", f"{SINGLE}/24")
        single = start_zonebootd(the_lab, pair.srv, pair.zone, tmp / "state-single", SINGLE, tmp / "counters-single.json",
                                 "--admin-port", "0", "--http-port", "0", "--tftp-port", "0", log=tmp / "single.log")
        alone, alone_seconds = storm(the_lab, gen, [SINGLE], count, 4_000_000, tmp / "single.json", args.window)
        the_lab.stop(single)
        pair.etcd.stop()
    pair_rate, single_rate = len(saturated["acked"]) / saturated_seconds, len(alone["acked"]) / alone_seconds
    print(f"saturated ({args.window} clients in flight): the pair on etcd answered {len(saturated['acked'])}/{count} at "
          f"{pair_rate:.0f} DORA/s, one host on SQLite {len(alone['acked'])}/{count} at {single_rate:.0f} DORA/s "
          f"({pair_rate / single_rate:.2f}x: a discovery ACK waits for etcd)")
    print(f"etcd writes: {writes} for {len(saturated['acked'])} new discovery leases = "
          f"{10 * writes / max(1, len(saturated['acked'])):.2f} per 10 (target: at most 1); by kind: "
          + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items(), key=lambda item: -item[1])))
    print("drops on the pair while saturated: " + (", ".join(f"{r} {n}" for r, n in sorted(drops.items())) or "none"))
    print(f"killed every {args.kill_every:g} s ({len(kills)} SIGKILLs, each host restarted): {len(paced['acked'])}/{count} "
          f"answered in {paced_seconds:.1f} s ({len(paced['failed'])} failed)")
    print(f"host A SIGKILLed: {kept}/{len(on_a)} of its clients rebound on B with their address ({rebound['naks']} NAKs), "
          f"all within {rebound_after:.2f} s of the kill; then {len(fresh['acked'])}/200 new machines answered, "
          f"all within {fresh_after:.2f} s of it (target: 5 s)")
    print(f"addresses given twice, all phases ({len(everything)} leases): {twice}")


def host_drops(pair, tmp):
    """Drops by reason on the hosts now running (a killed host's counters went with it)."""
    drops = {}
    for name in pair.hosts:
        for reason, n in ((read_counters(tmp / f"counters-{name}.json") or {}).get("dropped") or {}).items():
            drops[reason] = drops.get(reason, 0) + n
    return drops


if __name__ == "__main__":
    main()
