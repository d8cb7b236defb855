#!/usr/bin/python3
"""The README's picture of the zone view (docs/zone-view.png), made from a real server:
zonebootd serves a 6-pod example zone in a namespace; a relay namespace holding each pod's
gateways (the giaddrs the zone trusts) takes leases for a rack turn-up in progress with
relayed DORAs (Option 82 circuit-id and remote-id, as a ToR's relay sends), then fetches
boot scripts and `booted` markers over HTTP from the hosts' own addresses; a few machines
say they are iLOs (miscabled), one replaces another, a few release. Headless Chromium
then shows the page with one booted host selected.

    /usr/bin/python3 tests/e2e/zone_view_demo.py docs/zone-view.png

Addresses from 198.18.0.0/15 (the example's), namespaces removed at the end.
"""
import ipaddress
import json
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SERVER = "198.19.255.10"


def dhcp(op_type, xid, mac, giaddr, circuit, remote_id, requested=None, server=None, vendor=None):
    header = struct.pack("!BBBBIHHIIII16s64s128s", 1, 1, 6, 1, xid, 0, 0, 0, 0, 0,
                         int(ipaddress.IPv4Address(giaddr)), mac.ljust(16, b"\0"), b"", b"")
    options = b"\x63\x82\x53\x63" + bytes([53, 1, op_type])
    if requested:
        options += bytes([50, 4]) + ipaddress.IPv4Address(requested).packed
    if server:
        options += bytes([54, 4]) + ipaddress.IPv4Address(server).packed
    if vendor:
        options += bytes([60, len(vendor)]) + vendor
    agent = bytes([1, len(circuit)]) + circuit + bytes([2, len(remote_id)]) + remote_id
    return header + options + bytes([82, len(agent)]) + agent + b"\xff"


def reply(sock, xid):
    """The yiaddr and server identifier of the answer to xid."""
    while True:
        data, _ = sock.recvfrom(4096)
        if len(data) < 240 or struct.unpack("!I", data[4:8])[0] != xid:
            continue
        yiaddr = str(ipaddress.IPv4Address(data[16:20]))
        options, i, server = data[240:], 0, None
        while i < len(options) and options[i] != 255:
            if options[i] == 0:
                i += 1
                continue
            if options[i] == 54:
                server = str(ipaddress.IPv4Address(options[i + 2:i + 6]))
            i += 2 + options[i + 1]
        return yiaddr, server


def drive(plan_path):
    """Inside the relay namespace: each step of the plan (a list of dicts), in order."""
    plan = json.loads(Path(plan_path).read_text())
    sockets = {}
    for step in plan:
        giaddr = step["giaddr"]
        if giaddr not in sockets:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((giaddr, 67))
            sock.settimeout(5)
            sockets[giaddr] = sock
        sock = sockets[giaddr]
        mac = bytes.fromhex(step["mac"].replace(":", ""))
        circuit, remote = step["circuit"].encode(), step["remote_id"].encode()
        vendor = step.get("vendor", "").encode() or None
        xid = random.getrandbits(32)
        sock.sendto(dhcp(1, xid, mac, giaddr, circuit, remote, vendor=vendor), (SERVER, 67))
        offered, server = reply(sock, xid)
        sock.sendto(dhcp(3, xid, mac, giaddr, circuit, remote, requested=offered, server=server, vendor=vendor), (SERVER, 67))
        reply(sock, xid)
        if step.get("fetch"):
            # The host's own address, so that its files are served to it.
            subprocess.run(["ip", "addr", "add", f"{offered}/32", "dev", "up0"], check=True)
        for path in step.get("fetch", []):
            connection = urllib.request.build_opener(SourceHandler(offered))
            connection.open(f"http://{SERVER}{path}", timeout=10).read()
        if step.get("release"):
            release = dhcp(7, xid, mac, giaddr, circuit, remote, server=server)
            release = release[:12] + ipaddress.IPv4Address(offered).packed + release[16:]
            sock.sendto(release, (SERVER, 67))


class SourceHandler(urllib.request.HTTPHandler):
    """HTTP from a given source address: a host's own."""

    def __init__(self, source):
        super().__init__()
        self.source = source

    def http_open(self, request):
        import http.client
        return self.do_open(lambda host, **kw: http.client.HTTPConnection(host, source_address=(self.source, 0), **kw),
                            request)


def make_picture(out):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from apply_lab import example_zone
    from browser import Browser
    from netlab import lab, start_zonebootd

    random.seed(18)
    with tempfile.TemporaryDirectory(prefix="zone-view-demo-") as tmp, lab() as the_lab:
        tmp = Path(tmp)
        zone = example_zone(tmp, pods=6, racks=10, units=24)
        text = zone.read_text()
        gateways = dict(re.findall(r"- name: (p\d+)\n\s+relays: \[([\d.]+),", text))
        nets = re.findall(r"servers: \{ subnet: ([\d./]+),", text)
        srv, relay = the_lab.ns("srv"), the_lab.ns("rly")
        the_lab.link(srv, "eth0", relay, "up0")
        the_lab.addr(srv, "eth0", f"{SERVER}/24")
        the_lab.run(relay, "ip", "route", "add", "198.19.255.0/24", "dev", "up0")
        for pod, gateway in gateways.items():
            the_lab.run(relay, "ip", "addr", "add", f"{gateway}/32", "dev", "up0")
        for net in nets:
            the_lab.run(srv, "ip", "route", "add", net, "dev", "eth0")
        the_lab.wait_up(srv, "eth0")
        the_lab.wait_up(relay, "up0")
        server = start_zonebootd(the_lab, srv, zone, tmp / "state", SERVER, tmp / "counters.json",
                                 "--max-requests-per-circuit", "0", "--max-requests-per-mac", "0", log=tmp / "zonebootd.log")
        try:
            plan, hosts = [], []
            for pod in sorted(gateways):
                for rack in range(1, 11):
                    for unit in range(1, 25):
                        hosts.append((pod, rack, unit))
            first = ipaddress.IPv4Address("198.18.0.0")
            serial = 0
            for pod, rack, unit in hosts:
                # A turn-up in progress: p01 and p02 mostly done, p03 under way, p04 starting.
                done = {"p01": 0.97, "p02": 0.8, "p03": 0.45, "p04": 0.12}.get(pod, 0)
                if random.random() >= done:
                    continue
                serial += 1
                name = f"ex-{pod}-r{rack:02}-u{unit:02}"
                step = {"giaddr": gateways[pod], "mac": f"52:54:00:{serial >> 8:02x}:{serial & 255:02x}:01",
                        "circuit": f"swp{unit}", "remote_id": f"{pod}-tor-r{rack:02}", "fetch": []}
                roll = random.random()
                if roll < 0.03:
                    step["vendor"] = "CPQRIB3"  # an iLO on a host port: miscabled
                elif roll < 0.05:
                    step["release"] = True
                elif roll < 0.85:
                    step["fetch"] = [f"/hosts/{name}/boot.ipxe", f"/hosts/{name}/booted"]
                elif roll < 0.95:
                    step["fetch"] = [f"/hosts/{name}/boot.ipxe"]
                plan.append(step)
                if roll > 0.995:
                    replacement = dict(step, mac=f"52:54:00:{serial >> 8:02x}:{serial & 255:02x}:02", fetch=[])
                    plan.append(replacement)
            (tmp / "plan.json").write_text(json.dumps(plan))
            the_lab.run(relay, "/usr/bin/python3", Path(__file__).resolve(), "--drive", tmp / "plan.json", timeout=600)
            with Browser(tmp, ns=srv, width=1500, height=900) as browser:
                browser.open("http://127.0.0.1:9067/zone")
                browser.wait_until("document.body.dataset.ready === '1'", timeout=60)
                booted = browser.evaluate("document.querySelector('#zone i.s-b')?.dataset.name")
                browser.evaluate(f"document.querySelector('#zone i[data-name=\"{booted}\"]').click(); true")
                browser.wait_until("document.getElementById('host-state')?.textContent === 'booted'", timeout=30)
                time.sleep(0.5)
                browser.screenshot(Path(out))
                print(f"{out}: {len(plan)} leases driven; {booted} selected")
        finally:
            the_lab.stop(server)


if __name__ == "__main__":
    if sys.argv[1] == "--drive":
        drive(sys.argv[2])
    else:
        make_picture(sys.argv[1])
