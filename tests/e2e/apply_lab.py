"""Helpers for `zonectl apply` against a running zonebootd: a server on 127.0.0.1 with
high ports (no DHCP traffic is sent to it), example zones and the edits that change
one host or every host, and a lab where a relay in one namespace talks to the server
in another (198.18.0.0/15 only, removed afterwards).
"""
import ipaddress
import json
import os
import re
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from netlab import FIRMWARE, ZONEBOOTD, free_port, wait_for

ZONECTL = Path(os.environ.get("ZONECTL", Path(ZONEBOOTD).parent / "zonectl"))


def write_tokens(tmp, mode=0o600):
    """The server's token file and one client file per name: `ops` and `ci` write tokens
    (`name:token`), `audit` a read token (`name:read:token`)."""
    tokens = {"ops": secrets.token_hex(16), "ci": secrets.token_hex(16), "audit": secrets.token_hex(16)}
    lines = {name: f"{name}:read:{token}" if name == "audit" else f"{name}:{token}" for name, token in tokens.items()}
    path = Path(tmp) / "admin-tokens"
    path.write_text("# name:token or name:read:token\n" + "".join(line + "\n" for line in lines.values()))
    path.chmod(mode)
    for name, line in lines.items():
        (Path(tmp) / f"token-{name}").write_text(line + "\n")
        (Path(tmp) / f"token-{name}").chmod(0o600)
    return path, tokens


def example_zone(tmp, pods, racks, units, name="zone"):
    """`zonectl example` into tmp/<name>/; returns the zone file."""
    out = Path(tmp) / name
    subprocess.run([ZONECTL, "example", "--pods", str(pods), "--racks", str(racks), "--units", str(units),
                    "--zone", "ex", "-o", out], check=True, capture_output=True)
    return out / "ex.yaml"


SERVERS_LINE = re.compile(r"(ports: swp1-swp(\d+), rack: (\d+), units: 1-\d+, role: hypervisor, network: servers, "
                          r"address: )([\d.]+)")
POOL_LINE = re.compile(r"discovery: \{ network: servers, range: ([\d.]+)-([\d.]+), lease: 10m \}")


def move_one_host(text, pod="p01", rack=1, unit=7, offset=-2):
    """The host at swpU of the rack's ToR gets address <servers network> + offset (a free
    address above the discovery pool; negative: from the network's end, -2 being the
    last usable); every other host keeps its address."""
    pod_start = text.index(f"- name: {pod}\n")
    match = SERVERS_LINE.search(text, pod_start)
    while int(match.group(3)) != rack:
        match = SERVERS_LINE.search(text, match.end())
    units, first = int(match.group(2)), ipaddress.IPv4Address(match.group(4))
    servers = re.search(r"servers: \{ subnet: ([\d./]+)", text[pod_start:]).group(1)
    network = ipaddress.IPv4Network(servers)
    moved = network.network_address + (offset if offset >= 0 else network.num_addresses + offset)
    entries = [
        f"{{ ports: swp1-swp{unit - 1}, rack: {rack}, units: 1-{unit - 1}, role: hypervisor, network: servers, address: {first} }}",
        f"{{ ports: swp{unit}, rack: {rack}, units: {unit}, role: hypervisor, network: servers, address: {moved} }}",
        f"{{ ports: swp{unit + 1}-swp{units}, rack: {rack}, units: {unit + 1}-{units}, role: hypervisor, network: servers, "
        f"address: {first + unit} }}",
    ]
    line_start = text.rindex("\n", 0, match.start()) + 1
    line_end = text.index("\n", match.end())
    indent = text[line_start:text.index("-", line_start)]
    return text[:line_start] + "\n".join(indent + "- " + e for e in entries) + text[line_end:], str(first + unit - 1), str(moved)


def move_all_hosts(text, rename=True):
    """Every host moves: in each pod the discovery pool takes the hosts' first addresses
    and the hosts follow it (each host's address + the pool's size); with rename, every
    name changes too, so an answer mixing two revisions would show."""
    out, position = [], 0
    for pool in POOL_LINE.finditer(text):
        chunk = text[position:pool.start()]
        start, end = (ipaddress.IPv4Address(x) for x in pool.groups())
        size = int(end) - int(start) + 1
        first = min(ipaddress.IPv4Address(m.group(4)) for m in SERVERS_LINE.finditer(chunk))
        out.append(SERVERS_LINE.sub(lambda m: m.group(1) + str(ipaddress.IPv4Address(m.group(4)) + size), chunk))
        out.append(pool.group(0).replace(f"{start}-{end}", f"{first}-{first + size - 1}"))
        position = pool.end()
    out.append(text[position:])
    text = "".join(out)
    if rename:
        text = text.replace('host: "{zone}-{pod}-r{rack:02}-u{unit:02}"', 'host: "{zone}-{pod}-rack{rack:02}-u{unit:02}"')
    return text


class LocalServer:
    """zonebootd on 127.0.0.1: DHCP on a high port nobody sends to, no HTTP or TFTP,
    the admin API on a free port."""

    def __init__(self, tmp, zone, tokens_file=None, env=None, extra=()):
        self.tmp, self.zone, self.tokens_file = Path(tmp), Path(zone), tokens_file
        self.state = self.tmp / "state"
        self.admin_port = free_port()
        self.url = f"http://127.0.0.1:{self.admin_port}"
        self.extra = extra
        self.proc = None
        self.start(env)

    def start(self, env=None, wait=True):
        self.dhcp_port = free_port(socket.SOCK_DGRAM)
        args = [ZONEBOOTD, "--zone", self.zone, "--state", self.state, "--listen", "127.0.0.1",
                "--dhcp-port", str(self.dhcp_port), "--http-port", "0", "--tftp-port", "0", "--firmware", FIRMWARE,
                "--admin-port", str(self.admin_port), "--counters-file", self.tmp / "counters.json", *self.extra]
        if self.tokens_file:
            args += ["--admin-token-file", self.tokens_file]
        self.log = self.tmp / f"zonebootd-{time.time_ns()}.log"
        self.proc = subprocess.Popen([str(a) for a in args], stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **(env or {})), start_new_session=True)
        if wait:
            wait_for(lambda: self.proc.poll() is not None or self.running(), timeout=60, what="the admin API")
            assert self.proc.poll() is None, self.log.read_text()

    def running(self):
        try:
            return self.api("GET", "/v1/revision")[0] == 200
        except OSError:
            return False

    def read_token(self):
        """The read token write_tokens left beside the server (None without one)."""
        client_file = self.tmp / "token-audit"
        return client_file.read_text().strip().rsplit(":", 1)[1] if self.tokens_file and client_file.exists() else None

    def api(self, method, path, body=None, token="read", raw=None, timeout=60):
        """token: a token, None for none, or "read": the read token for reads (GET, plan), none for writes."""
        if token == "read":
            token = self.read_token() if method == "GET" or path == "/v1/plan" else None
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors="replace")

    def revision(self):
        return self.api("GET", "/v1/revision")[1]["revision"]

    def zonectl(self, *args, token="ops", check=None, timeout=120):
        env = dict(os.environ, ZONEBOOT_SERVER=self.url, NO_COLOR="1")
        if token:
            env["ZONEBOOT_TOKEN_FILE"] = str(self.tmp / f"token-{token}")
        result = subprocess.run([str(ZONECTL), *[str(a) for a in args]], capture_output=True, text=True, env=env,
                                timeout=timeout)
        if check is not None:
            assert result.returncode == check, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def stop(self, sig=15):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=20)


SERVICES = "198.19.255.10"


class ExampleRelayLab:
    """zonebootd serving an example zone in one namespace (198.19.255.10, the example's
    boot server) and a relay namespace holding pod p01's servers gateway, the giaddr
    the zone trusts. Load generators and probes run in the relay namespace."""

    def __init__(self, the_lab, tmp, zone, extra=()):
        self.lab, self.tmp, self.zone = the_lab, Path(tmp), Path(zone)
        text = self.zone.read_text()
        self.servers = ipaddress.IPv4Network(re.search(r"servers: \{ subnet: ([\d./]+)", text).group(1))
        self.giaddr = str(self.servers.network_address + 1)
        self.srv, self.relay = the_lab.ns("srv"), the_lab.ns("rly")
        the_lab.link(self.srv, "eth0", self.relay, "up0")
        the_lab.addr(self.srv, "eth0", f"{SERVICES}/24")
        the_lab.addr(self.relay, "up0", f"{self.giaddr}/{self.servers.prefixlen}")
        # One wire: each side reaches the other's network directly.
        the_lab.run(self.srv, "ip", "route", "add", str(self.servers), "dev", "eth0")
        the_lab.run(self.relay, "ip", "route", "add", "198.19.255.0/24", "dev", "up0")
        the_lab.wait_up(self.srv, "eth0")
        the_lab.wait_up(self.relay, "up0")
        self.tokens_file, _ = write_tokens(self.tmp)
        from netlab import start_zonebootd
        # Load and probes come through one relay port; the per-port flood cap would rightly stop them.
        self.server = start_zonebootd(the_lab, self.srv, self.zone, self.tmp / "state", SERVICES,
                                      self.tmp / "counters.json", "--admin-token-file", self.tokens_file,
                                      "--max-requests-per-circuit", "0", "--max-requests-per-mac", "0", "--max-discovery-leases-per-port", "0",
                                      "--http-port", "0", "--tftp-port", "0", *extra,
                                      log=self.tmp / "zonebootd.log")

    def zonectl(self, *args, timeout=300):
        return self.lab.run(self.srv, "env", f"ZONEBOOT_TOKEN_FILE={self.tmp / 'token-ops'}", "NO_COLOR=1", ZONECTL,
                            *args, "--server", "http://127.0.0.1:9067", check=False, timeout=timeout)

    @staticmethod
    def address_of(text, rack, unit):
        """The address rack's ToR port swp<unit> has in a zone text (as the example lays it out)."""
        for m in SERVERS_LINE.finditer(text):
            if int(m.group(3)) == rack:
                return str(ipaddress.IPv4Address(m.group(4)) + unit - 1)
        raise KeyError(rack)
