"""Attacks on DHCP identity trust (issue 14), from machines on the boot network: each gets
nothing (no reply, no lease row, no event, no hook run, no file), is counted by its drop
reason, and a legitimate client through `dhcrelay -a` is answered right afterwards with
its port's own address, within a second.

    [srv: eth0 198.18.0.10] ── [rly: up0 198.18.0.1 | swp1..swp4 198.18.16.1, dhcrelay -a] ── [cN: eth0]

The relay namespace IP-forwards, so a machine behind it (the attacker, on swp4 with an
address of its own) reaches the server's UDP port 67 directly, past the relay.

| attack | drop reason |
| --- | --- |
| a request whose reply cannot be sent (relay-port from UDP source port 0, or a proxyDHCP boot server request from port 0: EINVAL; a server on 127.0.0.1 asked to answer an unroutable giaddr: ENETUNREACH) | not a drop: `send_failures`, `send_failed` by reason; the socket keeps answering |
| a relayed request forged by a machine behind the relay (trusted giaddr and Option 82, its own source address) | `untrusted-relay-source` |
| direct mode: giaddr and/or Option 82 sent on an access port | `relayed-on-access-port` |
| proxyDHCP: a boot server REQUEST sent to port 67 | `proxy-boot-request-off-port` |
| proxyDHCP: a boot server REQUEST on 4011 whose ciaddr is not its source | `source-not-client-address` |
| unicast RELEASE / RENEW / INFORM naming a victim's ciaddr and MAC, from another address | `source-not-client-address` |
| RELEASE / DECLINE of a victim's lease, relayed from another port | `lease-of-another-location` |
| two Option 82 instances, or a repeated circuit-id or remote-id sub-option (scapy as the relay; and a client's own Option 82 through a real `dhcrelay -m append`) | `repeated-option-82` |
| Option 82 link-selection naming another pod's network | `link-selection-of-another-pod` |
| a serial (option 61 type 0) of `$(reboot)` | kept as absent: `client_text_discarded` |

Packets are built with scapy here and put on the wire inside the namespaces by small
scripts (raw IP or AF_PACKET sockets), which also watch for replies by transaction id.

Not tested here, because the server alone cannot stop them: a machine that sends from a
listed relay-source address (spoofed; the relay namespace's kernel drops it only because
that address is its own, as a switch does for its own addresses, so other switches need
uRPF or an ACL), and, under proxyDHCP, a machine that knows the MAC of a boot client that
asked within the last 300 s and sends a boot server request on 4011 from its own address:
that binds its address to the victim's host, which is what the boot server port is for.
"""
import ipaddress
import json
import signal
import sqlite3
import textwrap
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from dhcp_lab import SERVER, DHCPLab, lab_zone
from netlab import lab, read_counters, require_tools, start_zonebootd, wait_for
from test_dhcp_direct import DirectLab

RELAY_UPLINK = "198.18.0.1"  # where the relay namespace's dhcrelay sends from: the pod's relay-source
GIADDR = "198.18.16.1"       # every switch port's address: the giaddr dhcrelay writes, listed in `relays`
ATTACKER = "198.18.16.66"    # the attacker's own address behind swp4 (no lease: it just took one)
HOST = {"swp1": ("lab-p01-r01-u01", "198.18.16.11"), "swp2": ("lab-p01-r01-u02", "198.18.16.12"),
        "swp3": ("lab-p01-r01-u03", "198.18.16.13")}

# dhcp_lab's zone, with a boot profile whose files render the host's serial, a hook that
# records every run, and a second pod (for link-selection).
ZONE = lab_zone(roles="hypervisor: { boot: lab, hooks: [record] }", pods="""\
    - name: p02
      relays: [198.18.24.1]
      relay-sources: [198.18.0.2]
      networks:
        servers: { subnet: 198.18.24.0/24, gateway: 198.18.24.1 }
      switches:
        - name: tor-b
          ports:
            - { ports: swp1-swp3, rack: 1, units: 1-3, role: hypervisor, network: servers, address: 198.18.24.11 }
    """, more="""\
    profiles:
      lab:
        ipxe: boot.ipxe
        files:
          ks.cfg: ks.cfg
    hooks:
      record: { on: [lease.acked, lease.released, host.replaced, host.miscabled], run: hooks/record }
    """)

TEMPLATES = {
    "boot.ipxe": "#!ipxe\necho {{name}} at {{address}}\n",
    "ks.cfg": "# {{name}}\nserial=[{{serial}}]\n",
}
# Keeps each run's stdin (the event JSON) as runs/<event id>-<pid>.json, complete once it
# has that name.
RECORD_HOOK = textwrap.dedent("""\
    #!/bin/sh
    runs="$(dirname "$ZONEBOOT_STATE")/runs"; mkdir -p "$runs"
    cat > "$runs/$ZONEBOOT_EVENT_ID-$$.partial" && mv "$runs/$ZONEBOOT_EVENT_ID-$$.partial" "$runs/$ZONEBOOT_EVENT_ID-$$.json"
    """)

# Puts frames on the wire: {"iface": ..., "frames": [hex, ...]}: an Ethernet frame leaves
# through iface's packet socket; an IP packet (its header as written, any source address or
# port) through a raw socket, routed by the namespace.
SEND = r'''
import json, socket, sys, time
spec = json.loads(sys.argv[1])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
link = None
for layer, data, to in spec["frames"]:
    data = bytes.fromhex(data)
    if layer == "ether":
        if link is None:
            link = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            link.bind((spec["iface"], 0))
        link.send(data)
    else:
        raw.sendto(data, (to, 0))
    time.sleep(0.02)
'''

# Watches a namespace (one interface, or all) for BOOTP replies with the given xids, for
# a bounded time; writes what it saw (type, yiaddr, where to, Option 82 circuit-id) as JSON.
WATCH = r'''
import json, os, select, socket, struct, sys, time
xids, seconds, out = set(json.loads(sys.argv[1])), float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
if len(sys.argv) > 4:
    s.bind((sys.argv[4], 0))
open(out + ".ready", "w").close()
seen, deadline = [], time.time() + seconds
while True:
    left = deadline - time.time()
    if left <= 0 or not select.select([s], [], [], left)[0]:
        break
    frame, where = s.recvfrom(65535)
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        continue
    ip = frame[14:]
    udp = ip[(ip[0] & 15) * 4:]
    sport, dport = struct.unpack("!HH", udp[:4])
    bootp = udp[8:]
    if len(bootp) < 240 or bootp[0] != 2 or struct.unpack("!I", bootp[4:8])[0] not in xids:
        continue
    kind, circuit, i = None, None, 240
    while i + 1 < len(bootp) and bootp[i] != 255:
        if bootp[i] == 0:
            i += 1
            continue
        value = bootp[i + 2:i + 2 + bootp[i + 1]]
        if bootp[i] == 53 and value:
            kind = value[0]
        if bootp[i] == 82 and len(value) >= 2 and value[0] == 1:
            circuit = value[2:2 + value[1]].decode(errors="replace")
        i += 2 + bootp[i + 1]
    seen.append({"xid": struct.unpack("!I", bootp[4:8])[0], "type": kind, "yiaddr": socket.inet_ntoa(bootp[16:20]),
                 "interface": where[0], "to": socket.inet_ntoa(ip[16:20]), "port": dport, "circuit": circuit})
with open(out + ".tmp", "w") as f:
    json.dump(seen, f)
os.rename(out + ".tmp", out)
'''

def mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


def agent(*sub_options):
    """Option 82's value from (code, bytes) sub-options, in order, repeats allowed."""
    return b"".join(bytes([code, len(value)]) + value for code, value in sub_options)


def circuit(port):
    return (1, port.encode())


def request(kind, mac, xid, options=(), **bootp):
    """A BOOTREQUEST of a DHCP message type, with options as scapy takes them, in order."""
    from scapy.all import BOOTP, DHCP
    return BOOTP(op=1, chaddr=mac_bytes(mac), xid=xid, **bootp) / DHCP(options=[("message-type", kind), *options, "end"])


def over_ip(source, destination, message, sport=67, dport=67):
    from scapy.all import IP, UDP
    return IP(src=source, dst=destination) / UDP(sport=sport, dport=dport) / message


def broadcast(mac, message, source="0.0.0.0"):
    """As a client puts a request on its link: to everyone, for the relay to pick up."""
    from scapy.all import IP, UDP, Ether
    return Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src=source, dst="255.255.255.255") / UDP(sport=68, dport=67) / message


def put_on_wire(the_lab, ns, tmp, packets, iface="eth0"):
    from scapy.all import IP, Ether
    frames = []
    for packet in packets:
        if packet.haslayer(Ether):
            frames.append(("ether", bytes(packet).hex(), None))
        else:
            frames.append(("ip", bytes(packet).hex(), packet[IP].dst))
    script = tmp / "send.py"
    script.write_text(SEND)
    the_lab.run(ns, "/usr/bin/python3", script, json.dumps({"iface": iface, "frames": frames}), timeout=30)


@contextmanager
def replies_seen(the_lab, ns, tmp, xids, seconds=3.0, iface=None):
    """Watches a namespace for replies to the given xids while the body runs, and for
    `seconds` from the start; the yielded list holds them afterwards."""
    out = tmp / f"replies-{uuid.uuid4().hex[:8]}.json"
    script = tmp / "watch.py"
    script.write_text(WATCH)
    proc = the_lab.spawn(ns, "/usr/bin/python3", script, json.dumps(list(xids)), seconds, out, *([iface] if iface else []))
    wait_for(lambda: Path(f"{out}.ready").exists() or proc.poll() is not None, timeout=15, what="the watcher")
    seen = []
    yield seen
    proc.wait(timeout=seconds + 15)
    seen.extend(json.loads(out.read_text()))


def http_status(the_lab, ns, path, source):
    out = the_lab.run(ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                      "--interface", source, f"http://{SERVER}{path}", check=False)
    return out.stdout


class AttackLab(DHCPLab):
    """dhcp_lab's relayed lab on ZONE, with the templates and the recording hook, and helpers
    for what an attack must leave untouched."""

    def __init__(self, the_lab, tmp, server_args=()):
        for name, text in TEMPLATES.items():
            (tmp / name).write_text(text)
        (tmp / "hooks").mkdir(exist_ok=True)
        hook = tmp / "hooks" / "record"
        hook.write_text(RECORD_HOOK)
        hook.chmod(0o755)
        super().__init__(the_lab, tmp, ports=4, zone=ZONE, server_args=server_args)

    def attacker(self, port="swp4", addresses=(ATTACKER,)):
        """The machine on `port` with addresses of its own and a route to the server
        through the relay, which forwards its unicast like any router."""
        client = self.clients[port]
        for address in addresses:
            self.lab.addr(client, "eth0", f"{address}/24")
            self.lab.run(self.relay, "ip", "route", "add", f"{address}/32", "dev", port)
        self.lab.run(client, "ip", "route", "add", "default", "via", GIADDR)
        return client

    def host_address(self, port):
        """Gives a client the address its lease holds, as the machine would, to fetch its files."""
        self.lab.addr(self.clients[port], "eth0", f"{HOST[port][1]}/24")
        self.lab.run(self.clients[port], "ip", "route", "add", "default", "via", GIADDR)

    def send(self, ns, packets, iface="eth0"):
        put_on_wire(self.lab, ns, self.tmp, packets, iface)

    def watch(self, xids, seconds=3.0):
        """Every reply of the server comes in on the relay's uplink: to the relay, or routed
        on to a client (watched there only once, not again where the relay passes it on)."""
        return replies_seen(self.lab, self.relay, self.tmp, xids, seconds, iface="up0")

    def leases_of(self, mac):
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            return db.execute("SELECT address, state, name FROM lease WHERE mac = ?", (mac_bytes(mac),)).fetchall()
        finally:
            db.close()

    def device(self, address):
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            return db.execute("SELECT hex(mac), state, device_kind, device_model, device_serial FROM lease WHERE address = ?",
                              (int(ipaddress.IPv4Address(address)),)).fetchone()
        finally:
            db.close()

    def event_ids(self, type_):
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            return [row[0] for row in db.execute("SELECT id FROM event WHERE type = ? ORDER BY id", (type_,))]
        finally:
            db.close()

    def hook_runs(self):
        runs = self.tmp / "runs"
        return sorted(runs.glob("*.json")) if runs.exists() else []

    def dropped(self, reason):
        return self.counter("dropped", reason)

    def answered_within_a_second(self, port):
        """A real client through dhcrelay -a: udhcpc sends one DISCOVER and gives up after a
        second without an OFFER (and likewise for its REQUEST)."""
        try:
            got = self.udhcpc(port, timeout=20, extra=("-t", "1", "-T", "1"))
        except Exception as error:  # udhcpc exits non-zero without a lease
            pytest.fail(f"udhcpc on {port} got no lease within a second: {error}")
        assert (got["ip"], got["hostname"]) == (HOST[port][1], HOST[port][0]), got
        return got


@pytest.fixture
def dhcp(tmp_path):
    require_tools("ip", "dhcrelay", "busybox", "curl")
    import scapy.all  # noqa: F401  (python3-scapy, installed by make deps)
    with lab() as the_lab:
        yield AttackLab(the_lab, tmp_path)


def settled(dhcp):
    """What an attack must not change: events, hook runs, OFFERs and ACKs sent (a NAK
    may tell a relayed request that it asked for an address not at its location)."""
    time.sleep(1.5)  # counters are written once a second; hooks run off the DHCP path
    return {"events": dhcp.events(), "runs": len(dhcp.hook_runs()),
            "offers": dhcp.counter("sent", "offer"), "acks": dhcp.counter("sent", "ack")}


# 1. One packet must not silence DHCP ----------------------------------------------------------

def test_a_reply_to_relay_port_zero_does_not_silence_dhcp(dhcp):
    """RFC 8357 relay-port from UDP source port 0, from the trusted relay itself: the OFFER
    goes to 198.18.16.1:0, which no socket can send to (EINVAL)."""
    from scapy.all import UDP
    offer_to_port_zero = over_ip(RELAY_UPLINK, SERVER, request(
        "discover", "52:54:00:aa:01:01", 0x1001, [(82, agent(circuit("swp1"), (19, b"")))], giaddr=GIADDR, hops=1),
        sport=0)
    assert offer_to_port_zero[UDP].sport == 0
    dhcp.send(dhcp.relay, [offer_to_port_zero])
    wait_for(lambda: dhcp.counter("send_failures") >= 1, what=f"the failed send to be counted: {read_counters(dhcp.counters)}")
    assert dhcp.counter("send_failed", "invalid-argument") >= 1, read_counters(dhcp.counters)
    assert sum((dhcp.counter("send_failed") or {}).values()) == dhcp.counter("send_failures")
    received = dhcp.counter("received")
    dhcp.answered_within_a_second("swp2")
    dhcp.answered_within_a_second("swp3")
    wait_for(lambda: dhcp.counter("received") >= received + 4, what="received to keep counting")
    assert dhcp.server.poll() is None


LOOPBACK_ZONE = lab_zone(defaults="{ lease: 1h, dns: [198.18.0.53] }", relays="[198.18.16.1, 127.0.0.1]",
                         relay_sources="[127.0.0.1]", discovery=None)

# A relay on 127.0.0.1 (port 1067, named by relay-port so replies come back there): first a
# request whose giaddr no route leads to, then a DORA for swp1 whose every answer must come
# within a second. Prints what each step got.
LOOPBACK_RELAY = r'''
import json, socket, sys
from scapy.all import BOOTP, DHCP
step = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 1067))
s.settimeout(1.0)
def ask(kind, giaddr, xid, extra):
    agent = bytes([1, 4]) + b"swp1" + bytes([19, 0])
    p = BOOTP(op=1, chaddr=bytes.fromhex("525400aa0201"), giaddr=giaddr, xid=xid, hops=1) / DHCP(
        options=[("message-type", kind)] + extra + [(82, agent), "end"])
    s.sendto(bytes(p), ("127.0.0.1", 67))
if step == "unroutable":
    ask("discover", "198.18.16.1", 0x2001, [])
    print(json.dumps({"sent": True}))
else:
    try:
        ask("discover", "127.0.0.1", 0x2002, [])
        offer = BOOTP(s.recv(4096))
        ask("request", "127.0.0.1", 0x2002, [("requested_addr", offer.yiaddr), ("server_id", "127.0.0.1")])
        ack = BOOTP(s.recv(4096))
        options = dict(o for o in ack[DHCP].options if isinstance(o, tuple))
        print(json.dumps({"offer": offer.yiaddr, "ack": ack.yiaddr, "type": options.get("message-type")}))
    except socket.timeout:
        print(json.dumps({"timeout": True}))
'''


def test_an_unroutable_reply_on_127_0_0_1_does_not_silence_dhcp(tmp_path):
    """A server on 127.0.0.1 in a namespace with nothing but lo: the OFFER for a request
    with giaddr 198.18.16.1 has no route (ENETUNREACH); the next relay is answered."""
    require_tools("ip")
    import scapy.all  # noqa: F401
    with lab() as the_lab:
        ns = the_lab.ns("lo")
        zone, counters = tmp_path / "zone.yaml", tmp_path / "counters.json"
        zone.write_text(LOOPBACK_ZONE)
        server = start_zonebootd(the_lab, ns, zone, tmp_path / "state", "127.0.0.1", counters, "--http-port", "0",
                                 "--tftp-port", "0", "--log-level", "debug", log=tmp_path / "zonebootd.log")
        script = tmp_path / "loopback_relay.py"
        script.write_text(LOOPBACK_RELAY)

        def count(*path):
            value = read_counters(counters) or {}
            for key in path:
                value = value.get(key, 0) if isinstance(value, dict) else 0
            return value

        the_lab.run(ns, "/usr/bin/python3", script, "unroutable", timeout=60)
        wait_for(lambda: count("send_failures") >= 1, what=f"the failed send to be counted: {read_counters(counters)}")
        assert count("send_failed", "network-unreachable") >= 1, read_counters(counters)
        received = count("received")
        got = json.loads(the_lab.run(ns, "/usr/bin/python3", script, "dora", timeout=60).stdout.strip().splitlines()[-1])
        assert got == {"offer": "198.18.16.11", "ack": "198.18.16.11", "type": 5}, got
        wait_for(lambda: count("received") >= received + 2, what="received to keep counting")
        assert server.poll() is None


# 2. A relay forged by a machine behind it ---------------------------------------------------------

def test_a_relayed_request_forged_behind_the_relay_is_dropped(dhcp):
    """The machine on swp4 unicasts, past the relay, what swp1's relay would send for a new
    machine on swp1: giaddr 198.18.16.1, Option 82 circuit-id swp1. Believed, it would take
    swp1's identity from the machine bound there (host.replaced) and run its role's hooks."""
    victim = dhcp.udhcpc("swp1")
    assert victim["ip"] == "198.18.16.11"
    wait_for(lambda: len(dhcp.hook_runs()) == 1, what="the victim's lease.acked hook run")
    attacker = dhcp.attacker()
    mac = "52:54:00:66:00:04"
    forged_82 = [(82, agent(circuit("swp1")))]
    forged = [over_ip(ATTACKER, SERVER, request(kind, mac, xid, extra + forged_82, giaddr=GIADDR, hops=1))
              for kind, xid, extra in [("discover", 0x3001, []),
                                       ("request", 0x3002, [("requested_addr", "198.18.16.11"), ("server_id", SERVER)])]]
    before = settled(dhcp)
    with dhcp.watch([0x3001, 0x3002]) as replies:
        dhcp.send(attacker, forged)
    assert replies == []
    wait_for(lambda: dhcp.dropped("untrusted-relay-source") >= 2, what=f"the drops: {read_counters(dhcp.counters)}")
    assert settled(dhcp) == before
    assert "host.replaced" not in dhcp.events()
    assert dhcp.leases_of(mac) == []
    assert dhcp.lease("198.18.16.11") == ("525400000001", "bound", "lab-p01-r01-u01")
    dhcp.answered_within_a_second("swp2")


# 3. Direct mode: the ingress port is the location --------------------------------------------------

def test_direct_mode_ignores_a_relay_claimed_on_an_access_port(tmp_path):
    """zonebootd on the switch: the machine on swp1 claims to be a relay's client on swp3
    (giaddr of the listed relay, Option 82 circuit-id swp3), or sends either alone; then
    it gives up swp3's lease in its machine's name."""
    require_tools("ip", "busybox")
    import scapy.all  # noqa: F401
    with lab() as the_lab:
        switch = DirectLab(the_lab, tmp_path)
        mac = switch.mac(1)
        claims = {"giaddr and Option 82": ({"giaddr": GIADDR, "hops": 1}, [(82, agent(circuit("swp3")))]),
                  "Option 82 alone": ({}, [(82, agent(circuit("swp3")))]),
                  "giaddr alone": ({"giaddr": GIADDR, "hops": 1}, [])}
        packets, xids = [], []
        for n, (fields, extra) in enumerate(claims.values()):
            for kind, more in [("discover", []), ("request", [("requested_addr", "198.18.16.13"), ("server_id", GIADDR)])]:
                xid = 0x4000 + len(xids)
                xids.append(xid)
                packets.append(broadcast(mac, request(kind, mac, xid, more + extra, **fields)))
        with replies_seen(the_lab, switch.clients["swp1"], tmp_path, xids, iface="eth0") as replies:
            put_on_wire(the_lab, switch.clients["swp1"], tmp_path, packets)
        assert replies == []
        wait_for(lambda: switch.counter("dropped", "relayed-on-access-port") >= len(packets),
                 what=f"the drops: {read_counters(switch.counters)}")
        assert switch.lease("198.18.16.13") is None
        # The same machine asking plainly gets its own port's address, and swp3's machine its own.
        got = switch.udhcpc("swp1", extra=("-t", "1", "-T", "1"))
        assert (got["ip"], got["hostname"]) == ("198.18.16.11", "lab-p01-r01-u01"), got
        got = switch.udhcpc("swp3", extra=("-t", "1", "-T", "1"))
        assert (got["ip"], got["hostname"]) == ("198.18.16.13", "lab-p01-r01-u03"), got
        assert switch.lease("198.18.16.13") == ("525400000003", "bound", "lab-p01-r01-u03")
        # From swp1, the RELEASE and DECLINE swp3's machine would send, its address as the
        # source and all: the port they came in on holds no such lease.
        victim = switch.mac(3)
        owner = [(61, b"\x01" + mac_bytes(victim)), ("server_id", GIADDR)]
        forged = [broadcast(mac, request("release", victim, 0x4101, owner, ciaddr="198.18.16.13"), source="198.18.16.13"),
                  broadcast(mac, request("decline", victim, 0x4102, owner + [("requested_addr", "198.18.16.13")]))]
        put_on_wire(the_lab, switch.clients["swp1"], tmp_path, forged)
        wait_for(lambda: switch.counter("dropped", "lease-of-another-location") >= 2,
                 what=f"the drops: {read_counters(switch.counters)}")
        assert switch.lease("198.18.16.13") == ("525400000003", "bound", "lab-p01-r01-u03")


# 4. proxyDHCP: a boot server request binds only its sender ----------------------------------------

# What iPXE sends: user class iPXE, its PXE vendor class and architecture.
IPXE = [(77, b"iPXE"), ("vendor_class_id", b"PXEClient:Arch:00000:UNDI:002001"), (93, b"\x00\x00")]
PROXY_CLIENT_ADDRESS = "198.18.16.101"  # what the other DHCP server gave the victim
ATTACKER_CLAIM = "198.18.16.77"          # an address the attacker names in ciaddr


class ProxyLab(AttackLab):
    """zonebootd --proxy-dhcp behind the relay: another server (not run here) gives the
    addresses; the victim on swp1 network-boots with iPXE."""

    victim_mac = DHCPLab.mac(1)
    files = f"/hosts/{HOST['swp1'][0]}/boot.ipxe"

    def __init__(self, the_lab, tmp):
        super().__init__(the_lab, tmp, server_args=("--proxy-dhcp",))
        self.victim = self.clients["swp1"]

    def proxy_offer(self, xid):
        """The victim's DISCOVER through dhcrelay, and what came back to it: (type, yiaddr)."""
        with replies_seen(self.lab, self.victim, self.tmp, [xid], iface="eth0") as replies:
            self.send(self.victim, [broadcast(self.victim_mac, request("discover", self.victim_mac, xid, IPXE,
                                                                        flags=0x8000))])
        return [(r["type"], r["yiaddr"]) for r in replies]

    def give_victim_its_address(self):
        """What the other DHCP server would have given it."""
        self.lab.addr(self.victim, "eth0", f"{PROXY_CLIENT_ADDRESS}/24")
        self.lab.run(self.victim, "ip", "route", "add", "default", "via", GIADDR)
        self.lab.run(self.relay, "ip", "route", "add", f"{PROXY_CLIENT_ADDRESS}/32", "dev", "swp1")

    def boot_server_request(self, xid, sport=68):
        """The victim's own REQUEST to the boot server port, from its address; the replies seen."""
        packet = over_ip(PROXY_CLIENT_ADDRESS, SERVER, request("request", self.victim_mac, xid, IPXE,
                                                               ciaddr=PROXY_CLIENT_ADDRESS), sport=sport, dport=4011)
        with self.watch([xid]) as replies:
            self.send(self.victim, [packet])
        return [(r["type"], r["to"], r["port"]) for r in replies]


@pytest.fixture
def proxy(tmp_path):
    require_tools("ip", "dhcrelay", "curl")
    import scapy.all  # noqa: F401
    with lab() as the_lab:
        yield ProxyLab(the_lab, tmp_path)


def test_proxy_boot_server_requests_bind_only_their_sender(proxy):
    # The victim network-boots through dhcrelay: a proxy OFFER, no address.
    assert proxy.proxy_offer(0x5001) == [(2, "0.0.0.0")]
    attacker = proxy.attacker(addresses=(ATTACKER, ATTACKER_CLAIM))
    victim_mac = proxy.victim_mac
    # Its boot server REQUEST, sent to port 67 instead of 4011, from the attacker's own address...
    off_port = over_ip(ATTACKER, SERVER, request("request", victim_mac, 0x5002, IPXE, ciaddr=ATTACKER), sport=68, dport=67)
    # ...and to 4011, naming an address it does not send from.
    not_its_source = over_ip(ATTACKER, SERVER, request("request", victim_mac, 0x5003, IPXE, ciaddr=ATTACKER_CLAIM),
                             sport=68, dport=4011)
    with proxy.watch([0x5002, 0x5003]) as replies:
        proxy.send(attacker, [off_port, not_its_source])
    assert replies == []
    wait_for(lambda: proxy.dropped("proxy-boot-request-off-port") >= 1 and proxy.dropped("source-not-client-address") >= 1,
             what=f"the drops: {read_counters(proxy.counters)}")
    assert http_status(proxy.lab, attacker, proxy.files, ATTACKER) == "403"
    assert http_status(proxy.lab, attacker, proxy.files, ATTACKER_CLAIM) == "403"
    # The victim, with the address the other server gave it, is answered on 4011 and reads its files.
    assert proxy.proxy_offer(0x5004) == [(2, "0.0.0.0")]
    proxy.give_victim_its_address()
    assert proxy.boot_server_request(0x5005) == [(5, PROXY_CLIENT_ADDRESS, 68)]
    assert http_status(proxy.lab, proxy.victim, proxy.files, PROXY_CLIENT_ADDRESS) == "200"
    assert http_status(proxy.lab, attacker, proxy.files, ATTACKER) == "403"
    assert http_status(proxy.lab, attacker, proxy.files, ATTACKER_CLAIM) == "403"


def test_a_boot_server_reply_that_cannot_be_sent_does_not_silence_port_4011(proxy):
    """A boot server ACK goes back to the request's source port: from port 0, it cannot be
    sent (EINVAL). The boot server port must answer the next request all the same."""
    assert proxy.proxy_offer(0x5101) == [(2, "0.0.0.0")]
    proxy.give_victim_its_address()
    assert proxy.boot_server_request(0x5102, sport=0) == []
    wait_for(lambda: proxy.counter("send_failures") >= 1, what=f"the failed send: {read_counters(proxy.counters)}")
    assert proxy.counter("send_failed", "invalid-argument") >= 1, read_counters(proxy.counters)
    assert proxy.boot_server_request(0x5103) == [(5, PROXY_CLIENT_ADDRESS, 68)]
    assert proxy.proxy_offer(0x5104) == [(2, "0.0.0.0")]


# 5. Unicast and relayed RELEASE / RENEW naming someone else's lease ------------------------------------

def test_forged_release_renew_and_inform_leave_the_victims_lease_alone(dhcp):
    victim_proc, victim_events = dhcp.udhcpc_running("swp1")
    try:
        name, address = HOST["swp1"]
        files = f"/hosts/{name}/boot.ipxe"
        assert http_status(dhcp.lab, dhcp.clients["swp1"], files, address) == "200"
        victim = dhcp.device(address)
        assert victim[:2] == ("525400000001", "bound"), victim
        victim_mac = dhcp.mac(1)
        owner = [(61, b"\x01" + mac_bytes(victim_mac)), ("server_id", SERVER)]  # its client-id, as udhcpc sends it
        wait_for(lambda: len(dhcp.hook_runs()) == 1, what="the victim's lease.acked hook run")
        attacker = dhcp.attacker()
        before = settled(dhcp)
        # Unicast, past the relay, from the attacker's own address: RELEASE, a RENEW claiming to
        # be an Arista switch with another serial (miscabled: an event), an INFORM.
        unicast = [over_ip(ATTACKER, SERVER, request(kind, victim_mac, xid, owner + extra, ciaddr=address), sport=68)
                   for kind, xid, extra in [
                       ("release", 0x6001, []),
                       ("request", 0x6002, [("vendor_class_id", b"Arista;DCS-7050SX3-48YC8;11.00;EVILSERIAL")]),
                       ("inform", 0x6003, [])]]
        with dhcp.watch([0x6001, 0x6002, 0x6003]) as replies:
            dhcp.send(attacker, unicast)
        # dhcrelay also picks the forwarded RENEW off swp4 and relays it as swp4's: that copy
        # asks for an address swp4 does not have, and is told so (a NAK to swp4, not swp1).
        assert [(r["xid"], r["type"], r["circuit"]) for r in replies] in ([], [(0x6002, 6, "swp4")]), replies
        wait_for(lambda: dhcp.dropped("source-not-client-address") >= 3, what=f"the drops: {read_counters(dhcp.counters)}")
        # Broadcast on swp4, relayed by dhcrelay as swp4's: RELEASE and DECLINE of swp1's lease.
        attacker_mac = dhcp.mac(4)
        relayed = [broadcast(attacker_mac, request("release", victim_mac, 0x6004, owner, ciaddr=address), source=ATTACKER),
                   broadcast(attacker_mac, request("decline", victim_mac, 0x6005, owner + [("requested_addr", address)]))]
        with dhcp.watch([0x6004, 0x6005]) as replies:
            dhcp.send(attacker, relayed)
        assert replies == []
        wait_for(lambda: dhcp.dropped("lease-of-another-location") >= 2, what=f"the drops: {read_counters(dhcp.counters)}")
        assert settled(dhcp) == before
        assert dhcp.device(address) == victim
        assert http_status(dhcp.lab, dhcp.clients["swp1"], files, address) == "200"
        # The victim renews as ever, and a new machine on swp2 is answered.
        victim_proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "renew" in victim_events.read_text(), what="the victim's renewal")
        assert victim_events.read_text().splitlines()[-1].split() == ["renew", address, name, "3600"]
        dhcp.answered_within_a_second("swp2")
    finally:
        dhcp.lab.stop(victim_proc)


# 6. Option 82 the client chose -------------------------------------------------------------------

def test_repeated_option_82_and_link_selection_of_another_pod_are_dropped(dhcp):
    """From the trusted relay's own address, as a relay that appends its Option 82 to the
    client's would send them: two instances; two circuit-ids; two remote-ids. And
    link-selection (RFC 3527) naming pod p02's network from p01's relay."""
    cases = {
        "repeated-option-82": [
            [(82, agent(circuit("swp1"))), (82, agent(circuit("swp4")))],
            [(82, agent(circuit("swp1"), circuit("swp4")))],
            [(82, agent(circuit("swp1"), (2, b"p01-tor-a"), (2, b"p02-tor-b")))],
        ],
        "link-selection-of-another-pod": [
            [(82, agent(circuit("swp1"), (5, ipaddress.IPv4Address("198.18.24.0").packed)))],
        ],
    }
    packets, macs, xids = [], [], []
    for reason, variants in cases.items():
        for extra in variants:
            mac = f"52:54:00:82:00:{len(macs):02x}"
            macs.append(mac)
            for kind, more in [("discover", []), ("request", [("requested_addr", "198.18.16.11"), ("server_id", SERVER)])]:
                xid = 0x8200 + len(xids)
                xids.append(xid)
                packets.append(over_ip(RELAY_UPLINK, SERVER, request(kind, mac, xid, more + extra, giaddr=GIADDR, hops=1)))
    before = settled(dhcp)
    with dhcp.watch(xids) as replies:
        dhcp.send(dhcp.relay, packets)
    assert replies == []
    wait_for(lambda: dhcp.dropped("repeated-option-82") >= 6 and dhcp.dropped("link-selection-of-another-pod") >= 2,
             what=f"the drops: {read_counters(dhcp.counters)}")
    assert settled(dhcp) == before
    assert [dhcp.leases_of(mac) for mac in macs] == [[]] * len(macs)
    # Link-selection naming the relay's own pod's network is still believed.
    with dhcp.watch([0x8290]) as replies:
        dhcp.send(dhcp.relay, [over_ip(RELAY_UPLINK, SERVER, request(
            "discover", "52:54:00:82:00:90", 0x8290,
            [(82, agent(circuit("swp3"), (5, ipaddress.IPv4Address("198.18.16.0").packed)))], giaddr=GIADDR, hops=1))])
    assert [(r["type"], r["yiaddr"]) for r in replies] == [(2, "198.18.16.13")], replies
    dhcp.answered_within_a_second("swp2")


def test_a_clients_own_option_82_behind_an_appending_relay_is_dropped(dhcp):
    """A relay configured to append (`dhcrelay -m append`) rather than replace keeps the
    Option 82 a client wrote and adds its own: the machine on swp4 says it is on swp1.
    Whose circuit-id counts would be a guess; the request is dropped, and clients that
    send no Option 82 of their own are still answered through that relay."""
    dhcp.lab.stop(dhcp.relay_proc)
    args = ["dhcrelay", "-4", "-d", "-a", "-m", "append", "-pf", dhcp.tmp / "dhcrelay-append.pid"]
    for port in dhcp.clients:
        args += ["-id", port]
    dhcp.relay_proc = dhcp.lab.spawn(dhcp.relay, *args, "-iu", "up0", SERVER, log=dhcp.tmp / "dhcrelay-append.log")
    time.sleep(1)
    mac = dhcp.mac(4)
    claims = [broadcast(mac, request("discover", mac, 0x8301, [(82, agent(circuit("swp1")))])),
              broadcast(mac, request("request", mac, 0x8302, [("requested_addr", "198.18.16.11"), ("server_id", SERVER),
                                                              (82, agent(circuit("swp1")))]))]
    before = settled(dhcp)
    with dhcp.watch([0x8301, 0x8302]) as replies:
        dhcp.send(dhcp.clients["swp4"], claims)
    assert replies == []
    wait_for(lambda: dhcp.dropped("repeated-option-82") >= 2, what=f"the drops: {read_counters(dhcp.counters)}")
    assert settled(dhcp) == before
    assert dhcp.leases_of(mac) == []
    dhcp.answered_within_a_second("swp1")


# 7. Client strings are data ------------------------------------------------------------------------

def test_a_serial_that_is_shell_code_is_kept_as_absent(dhcp):
    """A legitimate host, through the trusted relay, whose option 61 (type 0: text) is a
    command substitution: not stored, not in the hook's event, not in a rendered file.
    A serial of safe text, from a host on swp2, is kept: the alphabet is what decides."""

    def fetch(port, path):
        dhcp.host_address(port)
        return dhcp.lab.run(dhcp.clients[port], "curl", "-s", "--max-time", "5", f"http://{SERVER}{path}").stdout

    def serial_client(port, serial):
        # A vendor class of safe text (busybox's own, "udhcp 1.35.0", has a space), so that
        # only the serial can be discarded.
        return dhcp.udhcpc(port, extra=("-V", "zoneboot-e2e", "-C", "-x", "0x3d:" + (b"\x00" + serial).hex()))

    safe_name, safe_address = HOST["swp2"]
    got = serial_client("swp2", b"SN-0042.a")
    assert (got["ip"], got["hostname"]) == (safe_address, safe_name), got
    assert dhcp.device(safe_address)[4] == "SN-0042.a", dhcp.device(safe_address)
    assert fetch("swp2", f"/hosts/{safe_name}/ks.cfg") == f"# {safe_name}\nserial=[SN-0042.a]\n"
    wait_for(lambda: dhcp.hook_runs(), what="swp2's lease.acked hook run")
    time.sleep(1.5)  # counters are written once a second
    assert dhcp.counter("client_text_discarded") == 0, read_counters(dhcp.counters)

    name, address = HOST["swp1"]
    got = serial_client("swp1", b"$(reboot)")
    assert (got["ip"], got["hostname"]) == (address, name), got
    wait_for(lambda: dhcp.counter("client_text_discarded") >= 1, what=f"the discard: {read_counters(dhcp.counters)}")
    assert dhcp.device(address)[:2] == ("525400000001", "bound")
    assert dhcp.device(address)[4] is None, dhcp.device(address)
    event_id = dhcp.event_ids("lease.acked")[-1]
    run = wait_for(lambda: [r for r in dhcp.hook_runs() if r.name.startswith(f"{event_id}-")], what="swp1's hook run")[0]
    event = json.loads(run.read_text())
    assert (event["type"], event["name"], event["details"].get("vendor_class")) == ("lease.acked", name, "zoneboot-e2e"), event
    assert "device_serial" not in event["details"], event
    assert "reboot" not in run.read_text()
    assert fetch("swp1", f"/hosts/{name}/ks.cfg") == f"# {name}\nserial=[]\n"
    dhcp.answered_within_a_second("swp3")
