"""A relayed DHCP lab: zonebootd, a relay with switch ports swp1..swpN, and clients.

    [srv: eth0 198.18.0.10] ── [relay: up0 198.18.0.1 | swp1..swpN 198.18.16.1] ── [cN: eth0]

`dhcrelay -a` puts the ingress port's name in Option 82 circuit-id, as a Linux
switch's relay does; giaddr is the port's address. A port given `untrusted` gets
198.18.20.1 instead, a giaddr the zone does not list.
"""
import os
import sqlite3
import textwrap
import time
from pathlib import Path

from netlab import read_counters, start_zonebootd, wait_for

# The lab's zone, written once: pod p01 behind the relay 198.18.16.1 (dhcrelay, which sends
# from its uplink 198.18.0.1), switch tor-a. Tests and benchmarks change only what they test.
LAB_DEFAULTS = "{ lease: 1h, dns: [198.18.0.53], ntp: [198.18.0.123], boot-server: 198.18.0.10 }"
HYPERVISORS = "{ ports: swp1-swp3, rack: 1, units: 1-3, role: hypervisor, network: servers, address: 198.18.16.11 }"
LAB_DISCOVERY = "{ network: servers, range: 198.18.16.200-198.18.16.210, lease: 10m }"


def lab_zone(ports=(HYPERVISORS,), roles="hypervisor: {}", *, defaults=LAB_DEFAULTS, network="servers",
             discovery=LAB_DISCOVERY, tor_role=None, switches="", pods="", relays="[198.18.16.1]",
             relay_sources="[198.18.0.1]", more=""):
    """The lab zone's text.

    ports: tor-a's port lines; roles: the `roles:` entries (YAML, one per line); switches: more
    switches of p01 (YAML list items); pods: more pods (YAML list items); more: top-level sections
    after `roles` (profiles:, hooks:). discovery=None leaves p01 without a discovery range."""
    def indent(text, by):
        lines = textwrap.dedent(text).rstrip().splitlines()
        return "".join(f"{by}{line}\n" if line.strip() else "\n" for line in lines)
    zone = textwrap.dedent(f"""\
        apiVersion: zoneboot/v1
        zone: lab
        domain: lab.example.net
        defaults: {defaults}
        pods:
          - name: p01
            relays: {relays}
            relay-sources: {relay_sources}
            networks:
              {network}: {{ subnet: 198.18.16.0/24, gateway: 198.18.16.1 }}
            switches:
              - name: tor-a
        """)
    if tor_role:
        zone += f"        role: {tor_role}\n"
    zone += "        ports:\n" + "".join(f"          - {port}\n" for port in ports)
    zone += indent(switches, "      ")
    if discovery:
        zone += f"    discovery: {discovery}\n"
    zone += indent(pods, "  ")
    zone += "roles:\n" + indent(roles, "  ")
    return zone + textwrap.dedent(more)


ZONE = lab_zone()

SERVER = "198.18.0.10"


class DHCPLab:
    # What start_server passes zonebootd beyond the lab's own arguments, and which binary.
    server_args = ()
    binary = None

    def __init__(self, lab, tmp: Path, ports=4, untrusted=(), zone=ZONE, server_args=(), binary=None):
        self.server_args = tuple(server_args)
        self.binary = binary
        self.use_files(lab, tmp, zone)
        self.srv = lab.ns("srv")
        self.relay = lab.ns("rly")
        lab.link(self.srv, "eth0", self.relay, "up0")
        lab.addr(self.srv, "eth0", "198.18.0.10/24")
        lab.addr(self.relay, "up0", "198.18.0.1/24")
        lab.route(self.srv, "198.18.16.0/22", "198.18.0.1")
        lab.run(self.relay, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.clients = {}
        for n in range(1, ports + 1):
            port = f"swp{n}"
            client = lab.ns(f"c{n}")
            lab.link(self.relay, port, client, "eth0")
            lab.addr(self.relay, port, ("198.18.20.1/24" if port in untrusted else "198.18.16.1/24"))
            lab.run(client, "ip", "link", "set", "eth0", "address", self.mac(n))
            self.clients[port] = client
            if n <= 3 and port not in untrusted:
                # Every port holds 198.18.16.1/24 here, so the kernel cannot tell which one leads to a
                # host; a switch knows its hosts. Unicast replies (renewals) need this host route.
                lab.run(self.relay, "ip", "route", "add", f"198.18.16.{10 + n}/32", "dev", port)
        for ns, ifname in [(self.srv, "eth0"), (self.relay, "up0"), *[(self.relay, p) for p in self.clients]]:
            lab.wait_up(ns, ifname)
        self.server = None
        self.start_server()
        args = ["dhcrelay", "-4", "-d", "-a", "-m", "replace", "-pf", tmp / "dhcrelay.pid"]
        for port in self.clients:
            args += ["-id", port]
        args += ["-iu", "up0", SERVER]
        self.relay_proc = lab.spawn(self.relay, *args, log=tmp / "dhcrelay.log")
        time.sleep(1)

    def use_files(self, lab, tmp, zone):
        """The lab, its folder, and where the zone, state and counters live in it."""
        self.lab = lab
        self.tmp = tmp
        self.state = tmp / "state"
        self.zone = tmp / "zone.yaml"
        self.zone.write_text(zone)
        self.counters = tmp / "counters.json"

    @staticmethod
    def mac(n, generation=0):
        return f"52:54:00:{generation:02x}:00:{n:02x}"

    def start_server(self):
        self.server = start_zonebootd(self.lab, self.srv, self.zone, self.state, SERVER, self.counters,
                                      "--log-level", "debug", *self.server_args, binary=self.binary,
                                      log=self.tmp / f"zonebootd-{time.time_ns()}.log")

    def stop_server(self, sig=None):
        import signal
        self.lab.stop(self.server, sig or signal.SIGTERM)

    def counter(self, *path):
        value = read_counters(self.counters) or {}
        for key in path:
            value = value.get(key, 0) if isinstance(value, dict) else 0
        return value

    def events(self):
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            return [row[0] for row in db.execute("SELECT type FROM event ORDER BY id")]
        finally:
            db.close()

    def lease(self, address):
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            import ipaddress
            row = db.execute("SELECT hex(mac), state, name FROM lease WHERE address = ?",
                             (int(ipaddress.IPv4Address(address)),)).fetchone()
            return row
        finally:
            db.close()

    # Clients. Each records what it was given in a file and returns it as a dict.

    def dhclient(self, port, timeout=30):
        client = self.clients[port]
        out = self.tmp / f"dhclient-{port}.env"
        script = self.tmp / "dhclient-script"
        # dhclient scrubs the script's environment down to the DHCP variables, which is all we want.
        out.unlink(missing_ok=True)
        script.write_text(f"#!/bin/sh\ncase \"$reason\" in BOUND|RENEW|REBOOT) env > {out};; esac\n")
        script.chmod(0o755)
        proc = self.lab.spawn(client, "dhclient", "-4", "-d", "-1", "-sf", script, "-lf", self.tmp / f"dhclient-{port}.leases",
                              "-pf", self.tmp / f"dhclient-{port}.pid", "eth0", log=self.tmp / f"dhclient-{port}.log")
        try:
            wait_for(lambda: out.exists() and out.stat().st_size > 0, timeout=timeout, what=f"dhclient on {port}")
        finally:
            self.lab.stop(proc)
        env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
        return {"ip": env.get("new_ip_address"), "hostname": env.get("new_host_name"), "router": env.get("new_routers"),
                "dns": env.get("new_domain_name_servers"), "lease": env.get("new_dhcp_lease_time"),
                "mask": env.get("new_subnet_mask"), "domain": env.get("new_domain_name")}

    def udhcpc(self, port, timeout=30, extra=()):
        client = self.clients[port]
        out = self.tmp / f"udhcpc-{port}.env"
        out.unlink(missing_ok=True)
        script = self.tmp / f"udhcpc-{port}.sh"
        script.write_text(f"#!/bin/sh\n[ \"$1\" = bound ] && env > {out}\nexit 0\n")
        script.chmod(0o755)
        self.lab.run(client, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", script,
                     *extra, timeout=timeout)
        env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
        return {"ip": env.get("ip"), "hostname": env.get("hostname"), "router": env.get("router"), "dns": env.get("dns"),
                "lease": env.get("lease"), "mask": env.get("subnet"), "domain": env.get("domain")}

    def udhcpc_running(self, port):
        """busybox udhcpc left running on a port, as a machine keeps it: it puts its address
        and default route on its interface, so that what it sends by unicast (renewals,
        releases) can leave, and appends "<event> <ip> <hostname> <lease>" to a file for
        each bound and renew. SIGUSR1 renews, SIGUSR2 releases; its log is
        udhcpc-<port>-running.log.
        Returns the process and the events file; stop it with lab.stop."""
        events = self.tmp / f"udhcpc-{port}-events"
        script = self.tmp / f"udhcpc-{port}-configure.sh"
        script.write_text(f"""#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/24" dev "$interface"
    ip route replace default via "$router"
    echo "$1 $ip $hostname $lease" >> {events};;
esac
exit 0
""")
        script.chmod(0o755)
        proc = self.lab.spawn(self.clients[port], "busybox", "udhcpc", "-i", "eth0", "-f", "-t", "5", "-T", "2", "-s", script,
                              log=self.tmp / f"udhcpc-{port}-running.log")
        wait_for(lambda: events.exists() and "bound" in events.read_text(), what=f"udhcpc's first lease on {port}")
        return proc, events

    def dhcpcd(self, port, timeout=40):
        client = self.clients[port]
        conf = self.tmp / "dhcpcd.conf"
        conf.write_text("option host_name, domain_name, domain_name_servers, ntp_servers\nnoipv6rs\n")
        log = self.tmp / f"dhcpcd-{port}.out"
        # `dhcpcd -T` prints the lease it would apply; 9.4.1 then does not always exit
        # (its privilege-separated helper crashes in a namespace), so read until the dump
        # is complete and stop it ourselves.
        proc = self.lab.spawn(client, "dhcpcd", "-4", "-T", "-t", "20", "-f", conf, "eth0", log=log)
        try:
            wait_for(lambda: log.exists() and "new_subnet_mask=" in log.read_text() and "new_routers=" in log.read_text(),
                     timeout=timeout, what=f"dhcpcd on {port}")
            time.sleep(0.3)
        finally:
            self.lab.stop(proc)
        env = {}
        for line in log.read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                env[key] = value.strip("'")
        return {"ip": env.get("new_ip_address"), "hostname": env.get("new_host_name"), "router": env.get("new_routers"),
                "dns": env.get("new_domain_name_servers"), "lease": env.get("new_dhcp_lease_time"),
                "mask": env.get("new_subnet_mask"), "domain": env.get("new_domain_name")}
