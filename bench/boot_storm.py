#!/usr/bin/python3
"""Boot storm: 100,000 machines, each on its own switch port, all powered on at once.

The zone is `zonectl example --pods HOSTS/400 --racks 10 --units 40 --network 10.0.0.0/8`,
edited as its header allows (one port entry per line) so that every host port has a
circuit-id of its own across the zone (`p07r03swp12`: pod, rack, port) and each pod one
relay, 198.19.84.<n>, in this benchmark's lab subnet. The addresses handed out (10/8) are
only payload: no interface is given one, and every packet travels between 198.19.80.0/20
addresses in namespaces made here.

A generator in the relays' namespace sends every DISCOVER at once, each from its pod's
relay address with Option 82 (circuit-id and the ToR's remote-id), requests each OFFER at
once, retransmits what is unanswered as RFC 2131 and PXE clients do (4 s, then 8, 16, 32,
the same xid), and checks that every ACK carries exactly its port's address. Run against
zonebootd and against Kea 2.2 given the same reservations by circuit-id (one subnet per
pod, selected by its relay; Kea 2.2 has no flex-id to use the remote-id as well, hence
circuit-ids unique in the zone) and the same socket receive buffer as zonebootd
(bench/dhcp_rcvbuf_preload.c), so the ratio measures the servers, not their buffers. Also
reports zonebootd's peak RSS and what its admission queue shed (it must shed nothing: a
storm's requests are fresh, their clients still wait). Bounded: 120 s per server.
"""
import ipaddress
import json
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from netlab import ROOT, lab, read_counters, server_and_client, sh, start_zonebootd, wait_for  # noqa: E402
from dhcp_bench import receive_buffer, start_kea_with_our_receive_buffer  # noqa: E402

ZONEBOOTD = Path(os.environ.get("ZONEBOOTD", ROOT / ".build" / "release" / "zonebootd"))
ZONECTL = ZONEBOOTD.parent / "zonectl"
SERVER, LOAD = "198.19.80.10", "198.19.80.1"
RELAYS = ipaddress.IPv4Network("198.19.84.0/22")  # one per pod, on the generator's loopback
RACKS, UNITS = 10, 40
HOSTS = int(os.environ.get("HOSTS", "100000"))
BOUND_SECONDS = 120


def storm_zone(zonectl, directory, hosts=HOSTS):
    """Writes the zone (and its templates) into directory; returns its path, the hosts, each
    (relay, circuit-id, remote-id, expected address) in zone order, and each relay's subnet."""
    pods, rest = divmod(hosts, RACKS * UNITS)
    if rest or not pods:
        sys.exit(f"HOSTS must be a multiple of {RACKS * UNITS}, not {hosts}")
    sh(zonectl, "example", "--pods", pods, "--racks", RACKS, "--units", UNITS, "--network", "10.0.0.0/8",
       "--zone", "storm", "-o", directory, timeout=120)
    path = Path(directory) / "storm.yaml"
    hosts_out, lines, subnets = [], [], {}
    pod = relay = switch = remote_id = None
    for line in path.read_text().splitlines():
        if found := re.fullmatch(r"\s*- name: (p\d+)", line):
            pod = found.group(1)
            relay = RELAYS.network_address + int(pod[1:])
        elif found := re.fullmatch(r"(\s+)relays: \[.*\]", line):
            line = f"{found.group(1)}relays: [{relay}]"
        elif found := re.search(r"servers: \{ subnet: (\S+),", line):
            subnets[str(relay)] = found.group(1)
        elif found := re.fullmatch(r"\s+- name: (\S+)", line):
            switch = found.group(1)
        elif found := re.fullmatch(r'\s+remote-id: "(\S+)"', line):
            remote_id = found.group(1)
        elif switch and switch.startswith("tor-") and (found := re.search(
                r"ports: swp(\d+)-swp(\d+), rack: (\d+), .*role: hypervisor, .*address: (\S+) \}", line)):
            low, high, rack, first = int(found.group(1)), int(found.group(2)), int(found.group(3)), found.group(4)
            prefix = f"{pod}r{rack:02d}swp"
            line = line.replace(f"ports: swp{low}-swp{high}", f"ports: {prefix}{low}-{prefix}{high}")
            for n in range(low, high + 1):
                hosts_out.append((str(relay), f"{prefix}{n}", remote_id, str(ipaddress.IPv4Address(first) + n - low)))
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    if len(hosts_out) != hosts:
        sys.exit(f"the generated zone has {len(hosts_out)} host ports, not {hosts}: did zonectl example change shape?")
    return path, hosts_out, subnets


def kea_config(tmp, hosts, subnets):
    """One subnet per pod, chosen by its relay, with a reservation per circuit-id; the
    options zonebootd gives (router: the network's first address, DNS)."""
    by_relay = {}
    for relay, circuit, _, address in hosts:
        if relay not in by_relay:
            network = ipaddress.IPv4Network(subnets[relay])
            by_relay[relay] = {"id": len(by_relay) + 1, "subnet": str(network), "relay": {"ip-addresses": [relay]},
                               "reservations": [],
                               "option-data": [{"name": "routers", "data": str(network.network_address + 1)},
                                               {"name": "domain-name-servers", "data": "10.255.255.53"}]}
        by_relay[relay]["reservations"].append({"circuit-id": f"'{circuit}'", "ip-address": address})
    return {"Dhcp4": {
        "interfaces-config": {"interfaces": [f"eth0/{SERVER}"], "dhcp-socket-type": "udp"},
        "lease-database": {"type": "memfile", "persist": True, "name": str(tmp / "kea-leases4.csv"), "lfc-interval": 0},
        "valid-lifetime": 43200,
        "host-reservation-identifiers": ["circuit-id"],
        "subnet4": list(by_relay.values()),
        "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": str(tmp / "kea.log")}]}],
    }}


GENERATOR = r'''
import heapq, json, select, socket, struct, sys, time
hosts_file, server, bound = sys.argv[1], sys.argv[2], float(sys.argv[3])
hosts = [line.split() for line in open(hosts_file)]   # relay circuit remote-id address
count = len(hosts)
COOKIE = b"\x63\x82\x53\x63"
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
relay = [socket.inet_aton(h[0]) for h in hosts]
expected = [socket.inet_aton(h[3]) for h in hosts]
agent = []
for _, circuit, remote, _ in hosts:
    c, r = circuit.encode(), remote.encode()
    body = bytes([1, len(c)]) + c + bytes([2, len(r)]) + r
    agent.append(bytes([82, len(body)]) + body + b"\xff")
def packet(i, kind, requested=b"", server_id=b""):
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, i, 0, 0, b"\0" * 4, b"\0" * 4, b"\0" * 4,
                       relay[i], struct.pack("!HI", 0x5254, i) + b"\0" * 10, b"", b"")
    opts = bytes([53, 1, kind])
    if requested: opts += bytes([50, 4]) + requested
    if server_id: opts += bytes([54, 4]) + server_id
    return head + COOKIE + opts + agent[i]
discover = [packet(i, 1) for i in range(count)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33   # Linux; Python names neither
s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 8 << 20)
s.bind(("0.0.0.0", 67))   # replies come to each relay's address (giaddr), port 67
s.setblocking(False)
pktinfo = [[(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("@I4s4s", 0, relay[i], b"\0" * 4))] for i in range(count)]
DONE = 2
state = [0] * count          # 0 discovering, 1 requesting, 2 done
message = list(discover)     # what a retransmission sends again
attempt = [0] * count        # retransmissions of the current message
sequence = [0] * count       # bumped per send: a timer for an older send is void
due = []                     # (when, host, sequence)
acked = wrong = retries = 0
last_ack = None
def send(i):
    while True:
        try:
            s.sendmsg([message[i]], pktinfo[i], 0, (server, 67)); break
        except BlockingIOError:
            select.select([], [s], [], 0.01)
    sequence[i] += 1
    heapq.heappush(due, (time.monotonic() + 4.0 * 2 ** min(attempt[i], 3), i, sequence[i]))
def receive(limit=1024):
    global acked, wrong, last_ack
    for _ in range(limit):
        try: data = s.recv(2048)
        except BlockingIOError: return
        if len(data) < 244 or data[0] != 2: continue
        i = struct.unpack_from("!I", data, 4)[0]
        if i >= count or state[i] == DONE: continue
        kind, server_id, at = 0, b"", 240
        while at + 1 < len(data) and data[at] != 255:
            if data[at] == 0: at += 1; continue
            code, length = data[at], data[at + 1]
            if code == 53: kind = data[at + 2]
            elif code == 54: server_id = data[at + 2:at + 2 + length]
            at += 2 + length
        if kind == 2 and state[i] == 0:
            state[i], attempt[i] = 1, 0
            message[i] = packet(i, 3, data[16:20], server_id); send(i)
        elif kind == 5 and state[i] == 1:
            state[i] = DONE; acked += 1; last_ack = time.monotonic()
            if data[16:20] != expected[i]: wrong += 1
        elif kind == 6:
            state[i], attempt[i], message[i] = 0, 0, discover[i]; send(i)
start = time.monotonic()
cpu = time.process_time()
for i in range(count):      # every machine powered on at once; offers answered as they come
    send(i)
    if i % 256 == 255: receive()
while acked < count and time.monotonic() < start + bound:
    wait = max(0.0, min(0.05, due[0][0] - time.monotonic())) if due else 0.05
    # Every reply already here first: a real machine sees its own reply as it arrives, so
    # one that waits in this generator's socket must not count as late and be sent again.
    if select.select([s], [], [], wait)[0]: receive(limit=count * 4)
    now = time.monotonic()
    while due and due[0][0] <= now:
        _, i, seq = heapq.heappop(due)
        if state[i] != DONE and seq == sequence[i]:
            retries += 1; attempt[i] += 1; send(i)
print(json.dumps({"acked": acked, "wrong": wrong, "retries": retries,
                  "seconds": round((last_ack or time.monotonic()) - start, 2),
                  "generator_cpu_s": round(time.process_time() - cpu, 2)}))
'''


def peak_rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def storm(which, zone_dir, hosts, subnets):
    with lab() as the_lab, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        srv, load = server_and_client(the_lab, SERVER, LOAD)
        pods = sorted({relay for relay, *_ in hosts})
        for relay in pods:
            the_lab.addr(load, "lo", f"{relay}/32")
        the_lab.route(srv, str(RELAYS), LOAD)
        if which == "zonebootd":
            proc = start_zonebootd(the_lab, srv, zone_dir / "storm.yaml", tmp / "state", SERVER, tmp / "counters.json",
                                   "--log-level", "error", binary=ZONEBOOTD, log=tmp / "zonebootd.log")
        else:
            proc = start_kea_with_our_receive_buffer(the_lab, srv, kea_config(tmp, hosts, subnets), tmp)
            # 100,000 reservations take Kea a while to load: its socket opens after them.
            wait_for(lambda: proc.poll() is not None or receive_buffer(the_lab, srv, SERVER), timeout=BOUND_SECONDS,
                     what="Kea to open its socket")
            if proc.poll() is not None:
                sys.exit(f"Kea exited ({proc.returncode}) loading {len(hosts)} reservations: "
                         f"{(tmp / 'kea.out').read_text()[-400:]}")
        buffer = receive_buffer(the_lab, srv, SERVER)
        (tmp / "hosts").write_text("".join(" ".join(h) + "\n" for h in hosts))
        (tmp / "storm.py").write_text(GENERATOR)
        out = the_lab.run(load, "/usr/bin/python3", tmp / "storm.py", tmp / "hosts", SERVER, BOUND_SECONDS,
                          timeout=BOUND_SECONDS + 120, check=False)
        if out.returncode:
            sys.exit(f"the storm generator failed against {which}: {out.stderr.strip()[-600:]}")
        result = json.loads(out.stdout)
        result.update(rss_mib=peak_rss_kib(proc.pid) / 1024, buffer=buffer)
        if which == "zonebootd":
            wait_for(lambda: read_counters(tmp / "counters.json"), what="zonebootd's counters")
            counters = read_counters(tmp / "counters.json") or {}
            result["shed"] = (counters.get("dropped") or {}).get("stale", 0)
        return result


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
    load = os.getloadavg()
    print(f"Boot storm: {HOSTS} machines on {HOSTS // (RACKS * UNITS)} relays, one circuit-id each, every DISCOVER "
          f"sent at once; retransmit after 4, 8, 16, 32 s. Load average before: {load[0]:.1f} / {load[1]:.1f}.")
    with tempfile.TemporaryDirectory() as d:
        zone, hosts, subnets = storm_zone(ZONECTL, d)
        order = os.environ.get("STORM_SERVERS", "kea,zonebootd").split(",")
        results = {which: storm(which, zone.parent, hosts, subnets) for which in order}
    print(f"  {'server':<10} {'ACKed':>7} {'wrong':>6} {'retries':>8} {'last ACK s':>11} {'peak MiB':>9} {'shed':>6} "
          f"{'rcvbuf':>9} {'generator CPU s':>16}")
    for which, r in results.items():
        print(f"  {which:<10} {r['acked']:>7} {r['wrong']:>6} {r['retries']:>8} {r['seconds']:>11.2f} {r['rss_mib']:>9.1f} "
              f"{r.get('shed', '-'):>6} {r['buffer']:>9} {r['generator_cpu_s']:>16.2f}")
    kea, ours = results.get("kea"), results.get("zonebootd")
    if kea and ours and kea["acked"] == HOSTS and ours["acked"] == HOSTS:
        print(f"  time to the last ACK, zonebootd / kea: {ours['seconds'] / kea['seconds']:.2f}x (target <= 0.5x)")
    if os.environ.get("IDLE_RSS", "1") == "1":
        print(f"zonebootd peak RSS with a generated 10,000-host zone (25 x 10 x 40, 20,500 identities) loaded: "
              f"{idle_rss_with_generated_zone():.1f} MiB (target < 100)")


if __name__ == "__main__":
    main()
