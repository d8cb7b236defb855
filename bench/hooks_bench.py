#!/usr/bin/python3
"""Hook delivery benchmark: 10,000 lease.acked events, each to a hook that takes 50 ms,
and what that costs DHCP: relayed REQUEST→ACK latency (p50/p99) while the hooks run, and
with no hook running, from the same zonebootd binary in the same run.

The events are written to the outbox before zonebootd starts (as a boot storm would leave
them); the latency probe is a relay of its own (giaddr, Option 82) in another namespace
that renews one lease over and over, so every ACK waits for its fsync'd commit, which
shares the database with the runner's writes. Addresses from 198.18.0.0/15; every
namespace is removed at the end.

    [load: up0 198.18.0.1, probe] ── [srv: eth0 198.18.0.10, zonebootd]
"""
import json
import os
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from netlab import ROOT, lab, server_and_client, start_zonebootd  # noqa: E402

ZONEBOOTD = Path(os.environ.get("ZONEBOOTD", ROOT / ".build" / "release" / "zonebootd"))
ZONECTL = ZONEBOOTD.parent / "zonectl"
SERVER, RELAY = "198.18.0.10", "198.18.0.1"
EVENTS = int(os.environ.get("EVENTS", "10000"))
CONCURRENCY = int(os.environ.get("HOOK_CONCURRENCY", "16"))
PROBES = int(os.environ.get("PROBES", "1500"))

ZONE = textwrap.dedent(f"""\
    apiVersion: zoneboot/v1
    zone: bench
    domain: bench.example.net
    defaults: {{ lease: 1h, boot-server: {SERVER} }}
    pods:
      - name: p01
        relays: [{RELAY}]
        networks:
          servers: {{ subnet: 198.18.16.0/20, gateway: 198.18.16.1 }}
        switches:
          - name: tor-a
            remote-id: "bench-tor"
            ports:
              - {{ ports: swp1, rack: 1, units: 1, role: hooked, network: servers, address: 198.18.16.11 }}
              - {{ ports: swp2, rack: 1, units: 2, role: plain, network: servers, address: 198.18.16.12 }}
    roles:
      hooked: {{ hooks: [slow] }}
      plain: {{}}
    hooks:
      slow: {{ on: [lease.acked], run: hooks/slow }}
    """)


def option82(circuit):
    return b"\x01" + bytes([len(circuit)]) + circuit + b"\x02\x09bench-tor"


def packet(kind, xid, mac, requested=None):
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, xid, 0, 0, bytes(4), bytes(4), bytes(4),
                       socket.inet_aton(RELAY), mac + bytes(10), bytes(64), bytes(128))
    options = bytes([53, 1, kind])
    if requested:
        options += bytes([50, 4]) + socket.inet_aton(requested) + bytes([54, 4]) + socket.inet_aton(SERVER)
    o82 = option82(b"swp2")
    options += bytes([82, len(o82)]) + o82 + b"\xff"
    return head + b"\x63\x82\x53\x63" + options


def probe(count):
    """Runs inside the load namespace: `count` REQUEST→ACK exchanges, one at a time; prints latencies (ms)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((RELAY, 67))
    sock.settimeout(2)
    mac = bytes.fromhex("525400aa0001")
    latencies, lost = [], 0
    deadline = time.time() + 120
    for n in range(count):
        if time.time() > deadline:
            break
        xid = 0x10000 + n
        sent = time.perf_counter()
        sock.sendto(packet(3, xid, mac, "198.18.16.12"), (SERVER, 67))
        while True:
            try:
                data, _ = sock.recvfrom(2048)
            except socket.timeout:
                lost += 1
                break
            if struct.unpack("!I", data[4:8])[0] == xid:
                latencies.append((time.perf_counter() - sent) * 1000)
                break
        time.sleep(0.005)
    print(json.dumps({"latencies": latencies, "lost": lost}))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def run_probe(the_lab, load):
    out = the_lab.run(load, sys.executable, __file__, "--probe", str(PROBES), timeout=300)
    return json.loads(out.stdout)


def write_events(state, count):
    # zonectl makes the database's schema in a state directory, but never the directory itself.
    Path(state).mkdir(exist_ok=True)
    subprocess.run([ZONECTL, "events", "--state", state, "--limit", "1"], check=True, capture_output=True)
    db = sqlite3.connect(Path(state) / "zoneboot.sqlite")
    now = int(time.time())
    body = json.dumps({"type": "lease.acked", "address": "198.18.16.11", "mac": "52:54:00:00:00:01",
                       "name": "bench-p01-r01-u01", "pod": "p01",
                       "location": {"pod": "p01", "switch": "tor-a", "port": "swp1"}, "details": {}, "at": now})
    db.executemany("INSERT INTO event (type, at, body) VALUES ('lease.acked', ?, ?)", [(now, body)] * count)
    db.commit()
    db.close()


def delivered(state):
    db = sqlite3.connect(Path(state) / "zoneboot.sqlite")
    try:
        return db.execute("SELECT count(*) FROM event WHERE delivered_at IS NOT NULL").fetchone()[0]
    finally:
        db.close()


def measure(with_hooks):
    with lab() as the_lab, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "hooks").mkdir()
        hook = tmp / "hooks" / "slow"
        hook.write_text("#!/bin/sh\ncat > /dev/null\nsleep 0.05\n")
        hook.chmod(0o755)
        zone = tmp / "zone.yaml"
        zone.write_text(ZONE)
        state = tmp / "state"
        if with_hooks:
            write_events(state, EVENTS)
        srv, load = server_and_client(the_lab, SERVER, RELAY)
        started = time.time()
        start_zonebootd(the_lab, srv, zone, state, SERVER, tmp / "counters.json", "--log-level", "warning",
                        "--http-port", "0", "--tftp-port", "0", "--max-requests-per-mac", "0",
                        "--max-requests-per-circuit", "0", "--max-discovery-leases-per-port", "0",
                        "--max-host-events-per-port", "0", "--hook-concurrency", str(CONCURRENCY),
                        binary=ZONEBOOTD, log=tmp / "zonebootd.log")
        result = run_probe(the_lab, load)
        result["delivered_during_probe"] = delivered(state) if with_hooks else 0
        if with_hooks:
            deadline = time.time() + 600
            while delivered(state) < EVENTS and time.time() < deadline:
                time.sleep(0.2)
            result["delivery_s"] = time.time() - started
            result["delivered"] = delivered(state)
        return result


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--probe":
        probe(int(sys.argv[2]))
        return
    print(f"Hooks: {EVENTS} lease.acked events, a hook of 50 ms each, {CONCURRENCY} at once; "
          f"DHCP REQUEST→ACK latency over {PROBES} relayed renewals (fsync'd commit each).")
    quiet = measure(False)
    busy = measure(True)
    print(f"  delivery: {busy['delivered']} events in {busy['delivery_s']:.1f} s = "
          f"{busy['delivered'] / busy['delivery_s']:.0f} events/s (ideal at {CONCURRENCY} x 50 ms: {CONCURRENCY * 20}/s)")
    for name, r in (("no hooks running", quiet), ("hooks running", busy)):
        lat = r["latencies"]
        print(f"  DHCP, {name:<17}: p50 {percentile(lat, 0.5):6.2f} ms  p99 {percentile(lat, 0.99):6.2f} ms  "
              f"({len(lat)} answered, {r['lost']} lost)")
    print(f"  events delivered while the hooks-running probe ran: {busy['delivered_during_probe']}")
    p99q, p99b = percentile(quiet["latencies"], 0.99), percentile(busy["latencies"], 0.99)
    print(f"  p99 with hooks / without: {p99b / p99q:.2f}x (target <= 1.10x)")


if __name__ == "__main__":
    main()
