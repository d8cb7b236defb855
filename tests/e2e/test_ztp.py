"""Switch ZTP and device recognition through the real relay.

    [srv: eth0 198.18.0.10] ── [rly: up0 198.18.0.1 | swp1, swp2 198.18.16.1] ── [c1], [c2]

swp1 is leaf-1's management port (`device: leaf-1`, role `ztp: cumulus` with an ONIE
installer), swp2 a hypervisor port. No switch firmware runs here: scapy sends the DHCP
each platform documents (ONIE's option 60/77/125, Cumulus's option 55 asking for 239, an
iLO's `CPQRIB3`) through `dhcrelay -a`, and curl fetches what the answers point at, with
ONIE's headers.
"""
import sqlite3
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from netlab import ROOT, lab, require_tools, start_zonebootd, wait_for

SERVER = "198.18.0.10"
ZONECTL = ROOT / ".build" / "debug" / "zonectl"

ZONE = textwrap.dedent("""\
    apiVersion: zoneboot/v1
    zone: lab
    domain: lab.example.net
    defaults:
      lease: 1h
      dns: [198.18.0.53]
      ntp: [198.18.0.123]
      boot-server: 198.18.0.10
    pods:
      - name: p01
        relays: [198.18.16.1]
        relay-sources: [198.18.0.1]   # dhcrelay sends from its uplink, up0
        networks:
          mgmt: { subnet: 198.18.16.0/24, gateway: 198.18.16.1 }
        switches:
          - name: tor-a
            role: tor
            ports:
              - { ports: swp1, device: leaf-1, network: mgmt, address: 198.18.16.11 }
              - { ports: swp2, rack: 1, units: 2, role: hypervisor, network: mgmt, address: 198.18.16.12 }
          - name: leaf-1
            role: leaf
            ports: []
    roles:
      tor: { ztp: cumulus }
      leaf: { ztp: cumulus, installer: onie/cumulus-installer.bin }
      hypervisor: {}
    """)

# A DHCP client played by scapy: DISCOVER then REQUEST with the given options; prints the
# ACK's yiaddr and its options as code=hex, read from the raw bytes (scapy's names for
# 114 and 239 differ between versions).
CLIENT = textwrap.dedent("""
    import sys
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, get_if_hwaddr, srp1
    conf.checkIPaddr = False
    iface = "eth0"
    mac = get_if_hwaddr(iface)
    chaddr = bytes.fromhex(mac.replace(":", ""))
    client = [(int(code), bytes.fromhex(data)) for code, data in (a.split("=") for a in sys.argv[1:])]
    def options(reply):
        raw = bytes(reply[BOOTP])[240:]
        found, i = {}, 0
        while i < len(raw) and raw[i] != 255:
            if raw[i] == 0:
                i += 1
                continue
            found[raw[i]] = raw[i + 2:i + 2 + raw[i + 1]]
            i += 2 + raw[i + 1]
        return found
    def exchange(kind, extra):
        packet = (Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / IP(src="0.0.0.0", dst="255.255.255.255")
                  / UDP(sport=68, dport=67) / BOOTP(chaddr=chaddr, xid=0x7a70, flags=0x8000)
                  / DHCP(options=[("message-type", kind)] + client + extra + ["end"]))
        reply = srp1(packet, iface=iface, timeout=5, retry=3, verbose=False)
        if reply is None:
            sys.exit(f"no answer to {kind}")
        return reply
    offer = exchange("discover", [])
    ack = exchange("request", [("requested_addr", offer[BOOTP].yiaddr), ("server_id", "198.18.0.10")])
    print(ack[BOOTP].yiaddr, " ".join(f"{code}={value.hex()}" for code, value in options(ack).items()))
    """)


def hex_text(text):
    return text.encode().hex()


ONIE = ["60=" + hex_text("onie_vendor:x86_64-accton_as7712_32x-r0"),
        "77=" + hex_text("onie_dhcp_user_class"),
        # Option 125: enterprise 42623 (0x0000a67f) with machine (3), arch (4) and revision (5).
        "125=0000a67f" + "{:02x}".format(2 + 17 + 2 + 6 + 2 + 1) + "0311" + hex_text("accton_as7712_32x")
        + "0406" + hex_text("x86_64") + "0501" + hex_text("0"),
        "55=" + bytes([1, 3, 6, 7, 12, 15, 42, 54, 66, 67, 72, 114, 150]).hex(),
        "61=00" + hex_text("AC7712X1234")]
CUMULUS = ["55=" + bytes([1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42, 239]).hex()]
ILO = ["60=" + hex_text("CPQRIB3"), "55=" + bytes([1, 3, 6, 12, 15, 42, 44]).hex()]


class ZTPLab:
    def __init__(self, the_lab, tmp: Path):
        self.lab = the_lab
        self.tmp = tmp
        (tmp / "zone.yaml").write_text(ZONE)
        files = tmp / "files"
        (files / "onie").mkdir(parents=True)
        (files / "onie" / "cumulus-installer.bin").write_bytes(b"#!/bin/sh\necho installer\n")
        (tmp / "client.py").write_text(CLIENT)
        self.srv = the_lab.ns("srv")
        self.relay = the_lab.ns("rly")
        the_lab.link(self.srv, "eth0", self.relay, "up0")
        the_lab.addr(self.srv, "eth0", f"{SERVER}/24")
        the_lab.addr(self.relay, "up0", "198.18.0.1/24")
        the_lab.route(self.srv, "198.18.16.0/22", "198.18.0.1")
        the_lab.run(self.relay, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.clients = {}
        for n, address in [(1, "198.18.16.11"), (2, "198.18.16.12")]:
            port = f"swp{n}"
            client = the_lab.ns(f"c{n}")
            the_lab.link(self.relay, port, client, "eth0")
            the_lab.addr(self.relay, port, "198.18.16.1/24")
            the_lab.run(self.relay, "ip", "route", "add", f"{address}/32", "dev", port)
            self.clients[port] = client
            the_lab.wait_up(self.relay, port)
        the_lab.wait_up(self.srv, "eth0")
        self.state = tmp / "state"
        self.log = tmp / "zonebootd.log"
        self.server = start_zonebootd(the_lab, self.srv, tmp / "zone.yaml", self.state, SERVER, tmp / "counters.json",
                                      "--files", files, "--log-level", "debug", log=self.log)
        self.relay_proc = the_lab.spawn(self.relay, "dhcrelay", "-4", "-d", "-a", "-m", "replace",
                                        "-pf", tmp / "dhcrelay.pid", "-id", "swp1", "-id", "swp2",
                                        "-iu", "up0", SERVER, log=tmp / "dhcrelay.log")
        time.sleep(1)

    def ask(self, port, client_options):
        """Runs one DORA from the port's client; returns yiaddr and the ACK's options."""
        out = self.lab.run(self.clients[port], "/usr/bin/python3", self.tmp / "client.py", *client_options, timeout=60)
        yiaddr, *options = out.stdout.split()
        return yiaddr, {int(code): bytes.fromhex(value) for code, value in (o.split("=") for o in options)}

    def use_address(self, port, address):
        client = self.clients[port]
        self.lab.addr(client, "eth0", f"{address}/24")
        self.lab.run(client, "ip", "route", "add", "default", "via", "198.18.16.1")

    def curl(self, port, url, *headers):
        args = ["curl", "-s", "-S", "-f"]
        for header in headers:
            args += ["-H", header]
        return self.lab.run(self.clients[port], *args, url, timeout=30).stdout

    def lease(self, address):
        import ipaddress
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            return db.execute("SELECT device_kind, device_model, device_serial, miscabled FROM lease WHERE address = ?",
                              (int(ipaddress.IPv4Address(address)),)).fetchone()
        finally:
            db.close()

    def events(self):
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            return [row[0] for row in db.execute("SELECT type FROM event ORDER BY id")]
        finally:
            db.close()


@pytest.fixture
def ztp_lab(tmp_path):
    require_tools("dhcrelay", "curl")
    with lab() as the_lab:
        yield ZTPLab(the_lab, tmp_path)


def test_onie_then_cumulus_on_a_switch_port_and_an_ilo_on_a_host_port(ztp_lab):
    # ONIE on leaf-1's management port: the installer in options 114 and 125.
    installer = f"http://{SERVER}/files/onie/cumulus-installer.bin"
    yiaddr, options = ztp_lab.ask("swp1", ONIE)
    assert yiaddr == "198.18.16.11"
    assert options[114].decode() == installer
    vivso = options[125]
    assert vivso[:4] == bytes.fromhex("0000a67f") and vivso[5] == 1 and vivso[7:].decode() == installer
    assert options[12].decode() == "lab-p01-leaf-1"
    assert ztp_lab.lease("198.18.16.11") == ("onie", "x86_64-accton_as7712_32x-r0", "AC7712X1234", 0)

    # ONIE fetches it with its headers, which the server logs (not the security key).
    ztp_lab.use_address("swp1", yiaddr)
    body = ztp_lab.curl("swp1", installer, "ONIE-SERIAL-NUMBER: AC7712X1234", "ONIE-ETH-ADDR: 52:54:00:00:00:01",
                        "ONIE-MACHINE: accton_as7712_32x", "ONIE-ARCH: x86_64", "ONIE-OPERATION: os-install",
                        "ONIE-SECURITY-KEY: secret-key-not-for-logs")
    assert body == "#!/bin/sh\necho installer\n"
    wait_for(lambda: "serial=AC7712X1234" in ztp_lab.log.read_text(), timeout=5, what="the ONIE request in the log")
    line = next(l for l in ztp_lab.log.read_text().splitlines() if "serial=AC7712X1234" in l)
    assert "/files/onie/cumulus-installer.bin" in line and "operation=os-install" in line
    assert "secret-key-not-for-logs" not in ztp_lab.log.read_text()

    # The installed Cumulus asks again (option 55 with 239): its script URL in option 239.
    ztp_lab.lab.run(ztp_lab.clients["swp1"], "ip", "addr", "flush", "dev", "eth0")
    yiaddr, options = ztp_lab.ask("swp1", CUMULUS)
    assert yiaddr == "198.18.16.11"
    script_url = options[239].decode()
    assert script_url == f"http://{SERVER}/hosts/lab-p01-leaf-1/ztp.sh"
    assert 114 not in options
    ztp_lab.use_address("swp1", yiaddr)
    script = ztp_lab.curl("swp1", script_url)
    assert script.startswith("#!/bin/bash\n# CUMULUS-AUTOPROVISIONING\n")
    assert "nv set system hostname lab-p01-leaf-1" in script
    assert ztp_lab.lease("198.18.16.11")[0] == "cumulus"
    # The hypervisor port cannot read the switch's script.
    ztp_lab.use_address("swp2", "198.18.16.12")
    refused = ztp_lab.lab.run(ztp_lab.clients["swp2"], "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              script_url, check=False)
    assert refused.stdout == "403"
    ztp_lab.lab.run(ztp_lab.clients["swp2"], "ip", "addr", "flush", "dev", "eth0")

    # An iLO on the hypervisor port: an address, no boot file, a host.miscabled finding.
    yiaddr, options = ztp_lab.ask("swp2", ILO)
    assert yiaddr == "198.18.16.12"
    assert 67 not in options and 239 not in options
    assert ztp_lab.lease("198.18.16.12") == ("hpe-ilo", None, None, 1)
    assert ztp_lab.events().count("host.miscabled") == 1
    # From the running server's admin API (127.0.0.1 inside the server's namespace).
    hosts = ztp_lab.lab.run(ztp_lab.srv, ZONECTL, "hosts", "--server", "http://127.0.0.1:9067", "--miscabled").stdout
    assert "lab-p01-r01-u02" in hosts and "hpe-ilo" in hosts and "MISCABLED" in hosts
    assert "lab-p01-leaf-1" not in hosts
