#!/usr/bin/python3
"""Boot storm: 10,000 machines, each on its own switch port, all powered on at once.

A generator in a relay namespace sends every DISCOVER at once (Option 82 circuit-id =
the port, one distinct circuit per machine), requests each OFFER, retransmits what is
unanswered after 2 s as real clients do, and checks that every ACK carries exactly its
port's address. Run against zonebootd and against Kea 2.2 given the same 10,000
reservations by circuit-id. Also reports zonebootd's peak RSS with the zone loaded.
Bounded: 90 s per server at most; addresses from 198.18.0.0/15; namespaces removed.
"""
import ipaddress
import os
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from netlab import ROOT, lab, server_and_client, start_kea, start_zonebootd  # noqa: E402

ZONEBOOTD = Path(os.environ.get("ZONEBOOTD", ROOT / ".build" / "release" / "zonebootd"))
ZONECTL = ZONEBOOTD.parent / "zonectl"
SERVER, LOAD, GIADDR = "198.18.0.10", "198.18.0.1", "198.18.64.1"
HOSTS, PER_SWITCH = int(os.environ.get("HOSTS", "10000")), 40
FIRST = ipaddress.IPv4Address("198.18.64.10")


def storm_zone(hosts=HOSTS):
    """One pod, hosts / 40 ToRs of 40 ports; port swp<n> (n from 1) is FIRST + n - 1."""
    switches = []
    for s in range(hosts // PER_SWITCH):
        lo, hi = s * PER_SWITCH + 1, (s + 1) * PER_SWITCH
        switches.append(f"      - name: tor-{s + 1:03d}\n        ports:\n"
                        f"          - {{ ports: swp{lo}-swp{hi}, rack: {s + 1}, units: 1-{PER_SWITCH}, role: hypervisor, "
                        f"network: servers, address: {FIRST + s * PER_SWITCH} }}\n")
    return textwrap.dedent(f"""\
        apiVersion: zoneboot/v1
        zone: storm
        domain: storm.example.net
        defaults: {{ lease: 12h, dns: [198.18.0.53], boot-server: {SERVER} }}
        pods:
          - name: p01
            relays: [{GIADDR}]
            networks:
              servers: {{ subnet: 198.18.64.0/18, gateway: {GIADDR} }}
            switches:
        """) + "".join(switches) + "roles:\n  hypervisor: {}\n"


def kea_config(tmp):
    reservations = [{"circuit-id": f"'swp{i + 1}'", "ip-address": str(FIRST + i)} for i in range(HOSTS)]
    return {"Dhcp4": {
        "interfaces-config": {"interfaces": [f"eth0/{SERVER}"], "dhcp-socket-type": "udp"},
        "lease-database": {"type": "memfile", "persist": True, "name": str(tmp / "kea-leases4.csv"), "lfc-interval": 0},
        "valid-lifetime": 43200,
        "host-reservation-identifiers": ["circuit-id"],
        "subnet4": [{"id": 1, "subnet": "198.18.64.0/18", "relay": {"ip-addresses": [GIADDR]},
                     "reservations": reservations,
                     "option-data": [{"name": "routers", "data": GIADDR},
                                     {"name": "domain-name-servers", "data": "198.18.0.53"}]}],
        "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": str(tmp / "kea.log")}]}],
    }}


GENERATOR = r'''
import socket, struct, sys, time, ipaddress, select
hosts, first, server, giaddr = int(sys.argv[1]), ipaddress.IPv4Address(sys.argv[2]), sys.argv[3], sys.argv[4]
COOKIE = b"\x63\x82\x53\x63"
def packet(i, kind, requested=None, server_id=None):
    mac = struct.pack("!HI", 0x5254, i)
    circuit = b"swp%d" % (i + 1)
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, i, 0, 0, b"\0" * 4, b"\0" * 4, b"\0" * 4,
                       socket.inet_aton(giaddr), mac + b"\0" * 10, b"", b"")
    opts = bytes([53, 1, kind])
    if requested: opts += bytes([50, 4]) + requested
    if server_id: opts += bytes([54, 4]) + server_id
    opts += bytes([82, len(circuit) + 2, 1, len(circuit)]) + circuit + b"\xff"
    return head + COOKIE + opts
def options(data):
    out, i = {}, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0: i += 1; continue
        out[data[i]] = data[i + 2:i + 2 + data[i + 1]]; i += 2 + data[i + 1]
    return out
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind((giaddr, 67))  # a relay sends from an address the zone trusts: here its giaddr
s.setblocking(False)
state = {}        # xid -> "discover" | ("request", yiaddr, server id) | "done"
sent_at = {}
acked, wrong, retries = {}, 0, 0
start = time.time()
def send(i):
    st = state[i]
    if st == "discover": data = packet(i, 1)
    else: data = packet(i, 3, requested=st[1], server_id=st[2])
    while True:
        try: s.sendto(data, (server, 67)); break
        except BlockingIOError: select.select([], [s], [], 0.01)
    sent_at[i] = time.time()
for i in range(hosts):
    state[i] = "discover"; send(i)
deadline = start + 90
last_ack = None
while len(acked) < hosts and time.time() < deadline:
    r, _, _ = select.select([s], [], [], 0.2)
    if r:
        for _ in range(256):
            try: data, _ = s.recvfrom(4096)
            except BlockingIOError: break
            if len(data) < 244: continue
            xid = struct.unpack("!I", data[4:8])[0]
            o = options(data)
            kind = o.get(53, b"\0")[0]
            if xid not in state or state[xid] == "done": continue
            if kind == 2 and state[xid] == "discover":
                state[xid] = ("request", data[16:20], o.get(54)); send(xid)
            elif kind == 5 and state[xid] != "discover":
                state[xid] = "done"; last_ack = time.time()
                yiaddr = ipaddress.IPv4Address(data[16:20])
                acked[xid] = yiaddr
                if yiaddr != first + xid: wrong += 1
            elif kind == 6:
                state[xid] = "discover"; send(xid)
    now = time.time()
    for i, st in state.items():
        if st != "done" and now - sent_at[i] > 2.0:
            retries += 1; send(i)
print(f"{len(acked)} {wrong} {retries} {(last_ack or time.time()) - start:.2f}")
'''


def peak_rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def storm(which):
    with lab() as the_lab, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        srv, load = server_and_client(the_lab, SERVER, LOAD)
        the_lab.addr(load, "lo", f"{GIADDR}/32")
        the_lab.route(srv, "198.18.64.0/18", LOAD)
        if which == "zonebootd":
            zone = tmp / "storm.yaml"
            zone.write_text(storm_zone())
            proc = start_zonebootd(the_lab, srv, zone, tmp / "state", SERVER, tmp / "counters.json",
                                   "--log-level", "warning", binary=ZONEBOOTD, log=tmp / "zonebootd.log")
        else:
            proc = start_kea(the_lab, srv, kea_config(tmp), tmp)
        script = tmp / "storm.py"
        script.write_text(GENERATOR)
        out = the_lab.run(load, "/usr/bin/python3", script, HOSTS, FIRST, SERVER, GIADDR, timeout=150).stdout.split()
        acked, wrong, retries, seconds = int(out[0]), int(out[1]), int(out[2]), float(out[3])
        return {"acked": acked, "wrong": wrong, "retries": retries, "seconds": seconds, "rss_mib": peak_rss_kib(proc.pid) / 1024}


def idle_rss_with_generated_zone():
    """zonebootd's peak RSS with a generated 25 x 10 x 40 zone (10,000 hosts, 10,000 BMCs) loaded."""
    with lab() as the_lab, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        srv = the_lab.ns("srv")
        the_lab.run(srv, ZONECTL, "example", "--pods", "25", "--racks", "10", "--units", "40", "--zone", "big", "-o", tmp / "z")
        proc = start_zonebootd(the_lab, srv, tmp / "z" / "big.yaml", tmp / "state", "127.0.0.1", tmp / "counters.json",
                               binary=ZONEBOOTD, log=tmp / "zonebootd.log")
        return peak_rss_kib(proc.pid) / 1024


def main():
    print(f"Boot storm: {HOSTS} machines, one circuit-id each, every DISCOVER sent at once; retransmit after 2 s.")
    results = {which: storm(which) for which in ("kea", "zonebootd")}
    print(f"  {'server':<10} {'ACKed':>7} {'wrong':>6} {'retries':>8} {'last ACK s':>11} {'peak MiB':>9}")
    for which, r in results.items():
        print(f"  {which:<10} {r['acked']:>7} {r['wrong']:>6} {r['retries']:>8} {r['seconds']:>11.2f} {r['rss_mib']:>9.1f}")
    kea, ours = results["kea"], results["zonebootd"]
    if kea["acked"] == HOSTS and ours["acked"] == HOSTS:
        print(f"  time to the last ACK, kea / zonebootd: {kea['seconds'] / ours['seconds']:.2f}x")
    print(f"zonebootd peak RSS with a generated 10,000-host zone (25 x 10 x 40, 20,500 identities) loaded: "
          f"{idle_rss_with_generated_zone():.1f} MiB (target < 100)")


if __name__ == "__main__":
    main()
