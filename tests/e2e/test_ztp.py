"""Switch ZTP and device recognition through the real relay.

    [srv: eth0 198.18.0.10] ── [rly: up0 198.18.0.1 | swp1, swp2 198.18.16.1] ── [c1], [c2]

swp1 is leaf-1's management port (`device: leaf-1`, role `ztp: cumulus` with an ONIE
installer), swp2 a hypervisor port, swp3 spine-1's (`ztp: sonic`), swp4 edge-1's
(`ztp: arista`). No switch firmware runs here: scapy sends the DHCP each platform
documents (ONIE's option 60/77/125, Cumulus's option 55 asking for 239, an iLO's
`CPQRIB3`, EOS's `Arista;<model>;<rev>;<serial>`) through `dhcrelay -a`, and curl fetches
what the answers point at, with ONIE's or SONiC's headers. SONiC's DHCP client is ISC
dhclient, which Debian ships: it runs for real, configured as SONiC's ZTP configures it.
"""
import json
import re
import sqlite3
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from dhcp_lab import lab_zone
from netlab import ROOT, lab, require_tools, start_zonebootd, wait_for

SERVER = "198.18.0.10"
ZONECTL = ROOT / ".build" / "debug" / "zonectl"

ZONE = lab_zone(
    network="mgmt", tor_role="tor", discovery=None,
    ports=["{ ports: swp1, device: leaf-1, network: mgmt, address: 198.18.16.11 }",
           "{ ports: swp2, rack: 1, units: 2, role: hypervisor, network: mgmt, address: 198.18.16.12 }",
           "{ ports: swp3, device: spine-1, network: mgmt, address: 198.18.16.13 }",
           "{ ports: swp4, device: edge-1, network: mgmt, address: 198.18.16.14 }"],
    switches="""\
    - name: leaf-1
      role: leaf
      ports: []
    - name: spine-1
      role: spine
      ports: []
    - name: edge-1
      role: edge
      ports: []
    """,
    roles="""\
    tor: { ztp: cumulus }
    leaf: { ztp: cumulus, installer: onie/cumulus-installer.bin }
    spine: { ztp: sonic }
    edge: { ztp: arista }
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
        "77=14" + hex_text("onie_dhcp_user_class"),  # RFC 3004: length 20, then the class
        # Option 125: enterprise 42623 (0x0000a67f) with machine (3), arch (4) and revision (5).
        "125=0000a67f" + "{:02x}".format(2 + 17 + 2 + 6 + 2 + 1) + "0311" + hex_text("accton_as7712_32x")
        + "0406" + hex_text("x86_64") + "0501" + hex_text("0"),
        "55=" + bytes([1, 3, 6, 7, 12, 15, 28, 42, 43, 54, 66, 67, 72, 114, 125]).hex(),
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
        for n, address in [(1, "198.18.16.11"), (2, "198.18.16.12"), (3, "198.18.16.13"), (4, "198.18.16.14")]:
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
                                        "-pf", tmp / "dhcrelay.pid", "-id", "swp1", "-id", "swp2", "-id", "swp3", "-id", "swp4",
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


# SONiC's ZTP writes these lines into dhclient.conf (sonic-net/sonic-ztp, commit
# 036c8eaad345102e92d085bf36f30e4585934135, tests/test_DecodeSysEeprom.py `test_ztp_profile`
# checks for `send dhcp-client-identifier "SONiC##<product>##<serial>"`, `send user-class`,
# `provisioning-script-url`, `tftp-server-name`); its exit hook (src/usr/lib/ztp/dhcp/ztp)
# keeps `$new_bootfile_name` as the ztp.json URL.
SONIC_PRODUCT, SONIC_SERIAL = "7712-32X-O-AC-F", "771232X1941045"
SONIC_DHCLIENT_CONF = textwrap.dedent(f"""\
    option provisioning-script-url code 239 = text;
    send dhcp-client-identifier "SONiC##{SONIC_PRODUCT}##{SONIC_SERIAL}";
    send user-class "SONiC-ZTP";
    send host-name "sonic";
    request subnet-mask, broadcast-address, routers, domain-name-servers, host-name,
            bootfile-name, tftp-server-name, provisioning-script-url;
    """)
# sonic-ztp src/usr/lib/python3/dist-packages/ztp/Downloader.py (same commit): curl with the
# configured user agent (`SONiC-ZTP/0.1` by default) and these headers.
SONIC_HEADERS = ["User-Agent: SONiC-ZTP/0.1", f"PRODUCT-NAME: {SONIC_PRODUCT}", f"SERIAL-NUMBER: {SONIC_SERIAL}",
                 "BASE-MAC-ADDRESS: 00:11:22:33:44:55", "SONiC-VERSION: SONiC.202311.1"]
ARISTA = ["60=" + hex_text("Arista;DCS-7050SX3-48YC8;11.00;JPE19181234"),
          "55=" + bytes([1, 3, 6, 12, 15, 28, 42, 66, 67]).hex()]


def sonic_bool(value, default):
    """sonic-ztp's getField(..., bool, default): a bool, or "true"/"false" in any case."""
    text = str(value).lower()
    return True if text == "true" else False if text == "false" else default


def configdb_json_plugin(section, downloaded, running, init_cfg):
    """What sonic-ztp's configdb-json plugin (src/usr/lib/ztp/plugins/configdb-json, commit
    036c8eaad345102e92d085bf36f30e4585934135) does with one section, written from its source:
    returns the commands it runs and the running and startup Config DB afterwards. `config
    reload` (sonic-utilities config/main.py) flushes and writes init_cfg.json plus the file;
    `config load` writes the file over what is there; both set each key's fields and keep the
    rest (swss-common ConfigDBConnector.mod_config)."""
    url = section.get("url") or section.get("dynamic-url")
    assert url, "the plugin bails out without url or dynamic-url"
    destination = url.get("destination") if isinstance(url, dict) else None
    clear = sonic_bool(section.get("clear-config"), True)
    save = sonic_bool(section.get("save-config"), False)
    overwrite = sonic_bool(section.get("overwrite-device-metadata"), False)
    file, running = json.loads(json.dumps(downloaded)), json.loads(json.dumps(running))
    localhost = file.get("DEVICE_METADATA", {}).get("localhost")
    if not overwrite and localhost is not None:
        for field in ("platform", "hwsku", "mac"):
            localhost[field] = running["DEVICE_METADATA"]["localhost"][field]
    elif not overwrite and clear:
        file.setdefault("DEVICE_METADATA", {})["localhost"] = dict(running["DEVICE_METADATA"]["localhost"])

    def merged(base):
        result = json.loads(json.dumps(base))
        for table, entries in file.items():
            for key, fields in entries.items():
                result.setdefault(table, {}).setdefault(key, {}).update(fields)
        return result

    commands, startup = [], running

    def stop_ztp_dhcp():
        # __stop_dhcp: where ZTP's profile is active, drop ZTP|mode and reconfigure eth0.
        if running.get("ZTP", {}).get("mode", {}).get("profile") == "active":
            del running["ZTP"]["mode"]
            commands.append("systemctl restart interfaces-config")

    if clear:
        stop_ztp_dhcp()
        commands.append("config reload -f -y /tmp/config_dl.json")
        running = merged(init_cfg)
    else:
        commands.append("config load -y /tmp/config_dl.json")
        running = merged(running)
    target = destination or ("/etc/sonic/config_db.json" if clear else None)
    if target:
        commands.append(f"mv /tmp/config_dl.json {target}")
        if target == "/etc/sonic/config_db.json":
            startup = file
    if not clear or save:
        stop_ztp_dhcp()
    if save:
        commands.append("config save -y")
        startup = running
    return commands, running, startup


def sonic_dhclient(ztp_lab, port, timeout=30):
    """Runs Debian's ISC dhclient with SONiC's ZTP configuration; returns the exit script's environment."""
    client = ztp_lab.clients[port]
    conf, out, script = ztp_lab.tmp / "sonic-dhclient.conf", ztp_lab.tmp / "sonic-dhclient.env", ztp_lab.tmp / "sonic-hook"
    conf.write_text(SONIC_DHCLIENT_CONF)
    # dhclient hands its script only the DHCP variables; keep them, touch nothing on the host.
    script.write_text(f"#!/bin/sh\ncase \"$reason\" in BOUND|RENEW|REBOOT) env > {out};; esac\n")
    script.chmod(0o755)
    proc = ztp_lab.lab.spawn(client, "dhclient", "-4", "-d", "-1", "-cf", conf, "-sf", script,
                             "-lf", ztp_lab.tmp / "sonic-dhclient.leases", "-pf", ztp_lab.tmp / "sonic-dhclient.pid", "eth0",
                             log=ztp_lab.tmp / "sonic-dhclient.log")
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 0, timeout=timeout, what=f"dhclient on {port}")
    finally:
        ztp_lab.lab.stop(proc)
    return dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)


def test_sonic_dhclient_gets_ztp_json_that_merges_its_config_and_keeps_the_ports(ztp_lab):
    require_tools("dhclient")
    env = sonic_dhclient(ztp_lab, "swp3")
    assert env["new_ip_address"] == "198.18.16.13"
    ztp_url = env["new_bootfile_name"]
    assert ztp_url == f"http://{SERVER}/hosts/lab-p01-spine-1/ztp.json"
    assert "new_provisioning_script_url" not in env
    # The serial and product came in SONiC's client-id, as real dhclient framed it.
    assert ztp_lab.lease("198.18.16.13") == ("sonic", SONIC_PRODUCT, SONIC_SERIAL, 0)

    ztp_lab.use_address("swp3", "198.18.16.13")
    ztp = json.loads(ztp_lab.curl("swp3", ztp_url, *SONIC_HEADERS))
    assert list(ztp["ztp"]) == ["01-configdb-json"]
    section = ztp["ztp"]["01-configdb-json"]
    downloaded = json.loads(ztp_lab.curl("swp3", section["url"]["source"], *SONIC_HEADERS))

    # A SONiC switch after its first boot: the hwsku's ports, hostname `sonic`.
    metadata = {"hostname": "sonic", "platform": "x86_64-accton_as7712_32x-r0", "hwsku": "Accton-AS7712-32X",
                "mac": "00:11:22:33:44:55"}
    ports = {"Ethernet0": {"lanes": "65,66,67,68", "alias": "Eth1"}, "Ethernet4": {"lanes": "69,70,71,72", "alias": "Eth2"}}
    running = {"DEVICE_METADATA": {"localhost": metadata}, "PORT": ports, "ZTP": {"mode": {"profile": "active"}}}
    commands, running, startup = configdb_json_plugin(section, downloaded, running, {"FEATURE": {"bgp": {"state": "enabled"}}})
    assert commands == ["config load -y /tmp/config_dl.json", "systemctl restart interfaces-config", "config save -y"]
    assert running["ZTP"] == {} and startup["ZTP"] == {}
    for config in (running, startup):
        assert config["PORT"] == ports
        assert config["DEVICE_METADATA"]["localhost"]["hostname"] == "lab-p01-spine-1"
        assert config["DEVICE_METADATA"]["localhost"]["hwsku"] == "Accton-AS7712-32X"
        assert config["MGMT_INTERFACE"] == {"eth0|198.18.16.13/24": {"gwaddr": "198.18.16.1"}}
        assert list(config["DNS_NAMESERVER"]) == ["198.18.0.53"] and list(config["NTP_SERVER"]) == ["198.18.0.123"]
    # The same plugin, given the section this server used to send, reloads over the ports.
    former = {"url": {"source": section["url"]["source"], "destination": "/etc/sonic/config_db.json"}}
    _, lost, lost_startup = configdb_json_plugin(former, downloaded, {"DEVICE_METADATA": {"localhost": metadata}, "PORT": ports}, {})
    assert "PORT" not in lost and "PORT" not in lost_startup


def test_arista_bootstrap_runs_writes_startup_config_and_fails_without_flash(ztp_lab):
    require_tools("unshare", "bash")
    yiaddr, options = ztp_lab.ask("swp4", ARISTA)
    assert yiaddr == "198.18.16.14"
    bootstrap_url = options[67].decode()
    assert bootstrap_url == f"http://{SERVER}/hosts/lab-p01-edge-1/bootstrap"
    assert ztp_lab.lease("198.18.16.14") == ("arista", "DCS-7050SX3-48YC8", "JPE19181234", 0)
    ztp_lab.use_address("swp4", yiaddr)
    bootstrap = ztp_lab.tmp / "bootstrap"
    bootstrap.write_text(ztp_lab.curl("swp4", bootstrap_url))
    bootstrap.chmod(0o755)
    # EOS runs the fetched script and reboots into /mnt/flash/startup-config when it exits 0
    # (arista-eosplus/ztpserver docs/overview.rst, commit 1f5d433cbc5af2955db2a5d4f7908274a2bdef2c).
    # A private mount namespace with a tmpfs over /mnt stands in for the flash.
    flash_run = ("mount -t tmpfs zb-flash /mnt && mkdir /mnt/flash && {script}; rc=$?; "
                 "cat /mnt/flash/startup-config 2>/dev/null; exit $rc")
    ran = ztp_lab.lab.run(ztp_lab.clients["swp4"], "unshare", "-m", "--propagation", "private", "sh", "-c",
                          flash_run.format(script=bootstrap), check=False, timeout=30)
    assert ran.returncode == 0, ran.stderr
    config = ran.stdout
    assert config.startswith("hostname lab-p01-edge-1\n")
    assert "interface Management1\n   ip address 198.18.16.14/24\n" in config
    assert "ip route 0.0.0.0/0 198.18.16.1\n" in config and "ip name-server 198.18.0.53\n" in config
    wait_for(lambda: re.search(r"host lab-p01-edge-1 booted from", ztp_lab.log.read_text()), timeout=5,
             what="the bootstrap's booted fetch in the log")
    # No writable flash: it fails, so EOS retries ZTP instead of rebooting unconfigured.
    no_flash = "mount -t tmpfs zb-flash /mnt && {script}"
    failed = ztp_lab.lab.run(ztp_lab.clients["swp4"], "unshare", "-m", "--propagation", "private", "sh", "-c",
                             no_flash.format(script=bootstrap), check=False, timeout=30)
    assert failed.returncode != 0


def test_render_says_what_each_switch_os_gets_and_does_on_a_switch_port(tmp_path):
    zone = tmp_path / "zone.yaml"
    zone.write_text(ZONE)
    out = subprocess.run([ZONECTL, "render", zone, "--switch", "tor-a", "--port", "swp3", "--json"],
                         capture_output=True, text=True, check=True).stdout
    by_os = {entry["kind"]: entry for entry in json.loads(out)["dhcp"]["by_switch_os"]}
    assert list(by_os) == ["onie", "sonic", "cumulus", "arista"]
    ztp_url = f"http://{SERVER}/hosts/lab-p01-spine-1/ztp.json"
    assert [(o["code"], o["value"]) for o in by_os["sonic"]["options"]] == [(67, ztp_url)]
    assert "config load" in by_os["sonic"]["action"] and "config save" in by_os["sonic"]["action"]
    # spine-1's role has no installer: ONIE gets nothing to act on.
    assert by_os["onie"]["options"] == [] and by_os["onie"].get("action") is None
    # EOS on a SONiC port: its option 67 file is not a script, so EOS would take it as its config.
    assert "startup-config" in by_os["arista"]["action"]
    # The text form says the same.
    text = subprocess.run([ZONECTL, "render", zone, "--switch", "tor-a", "--port", "swp3"],
                          capture_output=True, text=True, check=True).stdout
    section = text[text.index("By switch OS (role ztp: sonic)"):]
    assert f"67 bootfile-name" in section and ztp_url in section and "→ runs ztp.json: configdb-json merges" in section
    # On leaf-1 (Cumulus with an installer) ONIE is told to install.
    leaf = json.loads(subprocess.run([ZONECTL, "render", zone, "--name", "lab-p01-leaf-1", "--json"],
                                     capture_output=True, text=True, check=True).stdout)
    onie = next(entry for entry in leaf["dhcp"]["by_switch_os"] if entry["kind"] == "onie")
    assert {o["code"] for o in onie["options"]} == {114, 125} and "runs it" in onie["action"]
